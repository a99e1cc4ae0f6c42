"""IDX reader/writer: round trips, gzip detection by magic bytes, clear errors."""
import gzip

import numpy as np
import pytest

from nnjax.data import IdxError, parse_idx, read_idx, write_idx
from nnjax.data.idx import to_idx_bytes

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 4), (2, 5, 6), (2, 3, 4, 5)]:
        array = (rng.standard_normal(shape) * 50).astype(dtype)
        path = write_idx(tmp_path / f"a{len(shape)}", array, gzip=gz)
        back = read_idx(path, rank=len(shape))
        assert back.dtype == np.dtype(dtype) and back.dtype.isnative
        np.testing.assert_array_equal(back, array)
        with open(path, "rb") as fh:
            assert (fh.read(2) == b"\x1f\x8b") == gz


def test_header_layout_is_mnist_format():
    data = to_idx_bytes(np.zeros((2, 28, 28), np.uint8))
    assert data[:4] == bytes([0, 0, 0x08, 3])
    assert data[4:16] == bytes([0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])
    assert len(data) == 16 + 2 * 28 * 28


def test_gzip_detected_by_magic_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    raw_named_gz = tmp_path / "labels.gz"
    raw_named_gz.write_bytes(to_idx_bytes(array))
    gz_named_raw = tmp_path / "labels-idx1-ubyte"
    gz_named_raw.write_bytes(gzip.compress(to_idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(raw_named_gz), array)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)


def test_gzip_write_is_deterministic(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", array, gzip=True).read_bytes()
    b = write_idx(tmp_path / "b.gz", array, gzip=True).read_bytes()
    assert a == b


def test_wrong_magic_names_file(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(b"\x01\x00\x08\x01" + b"\x00\x00\x00\x02" + b"\x05\x06")
    with pytest.raises(IdxError, match=r"bad-idx1-ubyte.*not an IDX file.*01 00"):
        read_idx(path)


def test_unknown_dtype_code(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05")
    with pytest.raises(IdxError, match=r"x: unknown IDX dtype code 0x07"):
        read_idx(path)


def test_rank_checked(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    with pytest.raises(IdxError, match=r"labels: the IDX file has rank 1, expected 3"):
        read_idx(path, rank=3)
    with pytest.raises(IdxError, match="rank 0"):
        parse_idx(b"\x00\x00\x08\x00", source="r0")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    data = to_idx_bytes(np.ones((3, 4, 4), np.uint8))[:-5]
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(IdxError, match=r"t10k-images-idx3-ubyte: file truncated: 59 bytes.*needs exactly 64"):
        read_idx(path)


def test_trailing_bytes_and_short_header(tmp_path):
    with pytest.raises(IdxError, match="trailing bytes"):
        parse_idx(to_idx_bytes(np.ones(3, np.uint8)) + b"\x00", source="f")
    with pytest.raises(IdxError, match="too short"):
        parse_idx(b"\x00\x00", source="f")
    with pytest.raises(IdxError, match="truncated header"):
        parse_idx(b"\x00\x00\x08\x03\x00\x00\x00\x02", source="f")


def test_truncated_gzip_stream_names_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(to_idx_bytes(np.arange(1000, dtype=np.int32)))[:-20])
    with pytest.raises(IdxError, match=r"train-labels-idx1-ubyte.gz: the gzip data is truncated"):
        read_idx(path)


def test_write_rejects_unsupported(tmp_path):
    with pytest.raises(IdxError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
    with pytest.raises(IdxError, match="rank-0"):
        write_idx(tmp_path / "x", np.zeros((), np.uint8))
