from actsparse.core.compressors import reference_bpb


def test_compressors_report_bits_per_byte_of_the_real_tools():
    text = b"the quick brown fox jumps over the lazy dog. " * 2000
    results = {r.name: r for r in reference_bpb(text)}
    assert set(results) == {"gzip-9", "bzip2-9", "xz-9e"}
    for r in results.values():
        assert 0 < r.bpb < 1.0  # highly repetitive text compresses far below 8 bpb
        assert r.bpb == 8 * r.compressed_bytes / len(text)
