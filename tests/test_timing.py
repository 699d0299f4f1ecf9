from __future__ import annotations

import pytest

from regsuite import timing
from regsuite.errors import RegsuiteError

from .conftest import write_mnist_npz
from .test_specs import make_spec


def test_unknown_device_is_an_error():
    with pytest.raises(timing.DeviceUnavailable, match=r"Invalid value for `device`\. Expected one of \('cpu', 'gpu'\)\. Received: device='tpu'"):
        with timing.on_device("tpu"):
            pass


def test_gpu_without_a_gpu_says_so(monkeypatch):
    monkeypatch.setattr(timing, "accelerators", lambda: [])
    with pytest.raises(timing.DeviceUnavailable, match="no GPU visible to the Keras backend"):
        with timing.on_device("gpu"):
            pass


def test_time_fit_reports_first_epoch_apart(tmp_path):
    write_mnist_npz(tmp_path / "mnist.npz", n_train=60, n_test=20)
    spec = make_spec()
    t = timing.time_fit(spec, 0, "cpu", data_dir=str(tmp_path))
    assert (t.epochs, t.samples, t.device, t.backend) == (2, 40, "cpu", "tensorflow")
    assert t.first_epoch_seconds > 0 and t.steady_epoch_seconds > 0
    assert t.fit_seconds >= t.first_epoch_seconds + t.steady_epoch_seconds * 0.999
    assert t.samples_per_second == pytest.approx(40 / t.steady_epoch_seconds)


def test_only_keras_fits_are_timed():
    with pytest.raises(RegsuiteError, match="Invalid value for `procedure`"):
        timing.time_fit(make_spec(procedure="linear_gd"), 0)
