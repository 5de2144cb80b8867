"""Sparsity metrics on hand-built tensors, where the answer is known by construction."""

import pytest
import torch

from actsparse.metrics.sparsity import (
    energy_curve,
    energy_width,
    exact_zero_fraction,
    frac_active_tau,
)


def test_exact_zero_fraction_counts_only_exact_zeros():
    a = torch.tensor([[0.0, 1e-30, -0.0, 2.0]])
    assert exact_zero_fraction(a) == 0.5


def test_frac_active_tau_uses_absolute_value_and_strict_inequality():
    a = torch.tensor([[0.5, -0.5, 0.1, -0.2, 0.0]])
    assert frac_active_tau(a, 0.1) == pytest.approx(3 / 5)


def test_energy_width_of_one_hot_bytes_is_one_neuron():
    a = torch.zeros(3, 10)
    a[0, 2], a[1, 7], a[2, 0] = 5.0, -1.0, 0.3
    assert energy_width(a) == pytest.approx(0.1)


def test_energy_width_of_uniform_bytes_is_95_percent_of_width():
    assert energy_width(torch.ones(4, 100)) == pytest.approx(0.95)


def test_energy_width_of_a_known_split():
    # energies 64, 16, 9, 1 (total 90): 95% is 85.5; the top two hold 80, the top three 89
    a = torch.tensor([[8.0, -4.0, 3.0, 1.0]])
    assert energy_width(a) == pytest.approx(3 / 4)
    # energies 81, 16, 1, 1, 1 (total 100): the top two hold 97 >= 95
    assert energy_width(torch.tensor([[9.0, -4.0, 1.0, 1.0, -1.0]])) == pytest.approx(2 / 5)


def test_energy_curve_reaches_one_at_full_width_and_zero_at_none():
    a = torch.tensor([[3.0, 1.0, 0.0, 0.0]])
    curve = energy_curve(a, torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert curve.tolist() == pytest.approx([0.0, 0.9, 1.0, 1.0])
