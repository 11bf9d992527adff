"""The oneDNN choice made before TensorFlow loads (lipmotion_tf.cpu_kernels)."""

import subprocess
import sys

from lipmotion_tf.cpu_kernels import ONEDNN_VARIABLE, cpu_flags, prefer_onednn

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})


def test_an_avx2_cpu_gets_onednn():
    environ = {}
    assert prefer_onednn(environ, AVX2, tensorflow_loaded=False)
    assert environ == {ONEDNN_VARIABLE: "1"}


def test_the_users_choice_is_kept():
    environ = {ONEDNN_VARIABLE: "0"}
    assert not prefer_onednn(environ, AVX2, tensorflow_loaded=False)
    assert environ == {ONEDNN_VARIABLE: "0"}


def test_nothing_changes_without_avx2_and_fma_or_after_tensorflow_loaded():
    environ = {}
    assert not prefer_onednn(environ, frozenset({"sse4_2", "avx"}), tensorflow_loaded=False)
    assert not prefer_onednn(environ, AVX2, tensorflow_loaded=True)
    assert environ == {}


def test_cpu_flags_reads_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 fma\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_the_cli_chooses_before_tensorflow_loads():
    """`lipmotion` calls prefer_onednn after parsing its arguments: parsing (every subcommand
    registered) must not have loaded TensorFlow yet, or the choice would come too late."""
    probe = ("import sys; from lipmotion_tf.cli.main import build_parser; "
             "build_parser().parse_args(['generate', '-o', 'x.mp4']); "
             "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
