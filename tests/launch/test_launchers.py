"""The launchers in launch/: their --dry_run output, command by command, their help
and their argument errors. Every launcher runs in a clean environment (no SLURM_*,
CUDA_VISIBLE_DEVICES or XLA_FLAGS from the caller), with fake nvidia-smi, scontrol,
srun and gcloud where a test needs them, so the results do not depend on the host.
Nothing here imports jax or starts train.py.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch"
SCRIPTS = ["multiprocess_local.sh", "gpu_multinode.sh", "slurm.sbatch", "tpu_vm.sh"]
# Passed through verbatim: spaces, quotes of both kinds, $, backquotes, a backslash,
# a newline and an empty value must all reach train.py unchanged.
OVERRIDES = ["--config.model.hidden=(64, 64)",
             "--config.data.name=it's \"q\" $HOME `x` \\ and\nmore",
             "--config.data.path="]
# An absolute path that is not executable makes every launcher fall back to python3.
PY = "python3"


def fake_bin(directory: Path, **scripts: str) -> Path:
  """Writes executables `name` with the given sh bodies into `directory`."""
  directory.mkdir(parents=True, exist_ok=True)
  for name, body in scripts.items():
    path = directory / name.replace("_", "-")
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
  return directory


NO_GPU = {"nvidia_smi": "exit 6"}  # what nvidia-smi does on a machine without GPUs


def launch(tmp_path: Path, script: str, *args: str, bins: dict[str, str] | None = None,
           **env: str) -> subprocess.CompletedProcess:
  fakes = fake_bin(tmp_path / "bin", **(NO_GPU | (bins or {})))
  clean = {"PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
           "PYTHON": PY, **env}
  cmd = (["bash"] if script.endswith(".sbatch") else []) + [str(LAUNCH / script), *args]
  return subprocess.run(cmd, cwd=tmp_path, env=clean, capture_output=True, text=True,
                        timeout=30)


def dry_lines(tmp_path, script, *args, **kwargs) -> list[str]:
  proc = launch(tmp_path, script, "--dry_run", *args, **kwargs)
  assert proc.returncode == 0, proc.stderr
  assert proc.stderr == ""
  # A newline inside a quoted word continues the command: split on whole commands.
  lines, current = [], ""
  for part in proc.stdout.splitlines(keepends=True):
    current += part
    try:
      shlex.split(current)
    except ValueError:  # an open quote
      continue
    lines.append(current.rstrip("\n"))
    current = ""
  assert current == ""
  return lines


def process(line: str) -> tuple[dict[str, str], list[str], str]:
  """`VAR=v ... PYTHON train.py ARGS > LOG 2>&1 &` -> (env, argv, log)."""
  words = shlex.split(line)
  assert words[-4] == ">" and words[-2:] == ["2>&1", "&"], line
  words, log = words[:-4], words[-3]
  env = {}
  while re.fullmatch(r"[A-Z_]+=.*", words[0], re.S):
    key, value = words.pop(0).split("=", 1)
    env[key] = value
  return env, words, log


def train_argv(experiment, workdir, *middle, overrides=OVERRIDES):
  return [PY, "train.py", f"--experiment={experiment}", f"--workdir={workdir}", *middle,
          *overrides]


def test_local_cpu_processes(tmp_path):
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--num_processes=3",
                    "--devices_per_process=2", "--port=23456", "--platform=cpu",
                    "digits_mlp:smoke", *OVERRIDES)
  assert [shlex.split(line) for line in lines[:2]] == [
      ["cd", str(REPO)], ["mkdir", "-p", "runs/digits_mlp_smoke/logs"]]
  assert len(lines) == 2 + 3
  for i, line in enumerate(lines[2:]):
    env, argv, log = process(line)
    assert env == {"JAX_PLATFORMS": "cpu", "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo",
                   "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert argv == train_argv("digits_mlp:smoke", "runs/digits_mlp_smoke",
                              "--coordinator_address=127.0.0.1:23456",
                              "--num_processes=3", f"--process_id={i}")
    assert log == f"runs/digits_mlp_smoke/logs/process_{i}.log"


def test_local_lines_read_like_hand_written_ones(tmp_path):
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--port=23456", "--platform=cpu",
                    "digits_mlp", "runs/my run", "--config.model.hidden=(64, 64)",
                    "--config.name=it's")
  assert lines[1:3] == [
      "mkdir -p 'runs/my run/logs'",
      "JAX_PLATFORMS=cpu JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo "
      "XLA_FLAGS=--xla_force_host_platform_device_count=1 python3 train.py "
      "--experiment=digits_mlp '--workdir=runs/my run' "
      "--coordinator_address=127.0.0.1:23456 --num_processes=2 --process_id=0 "
      "'--config.model.hidden=(64, 64)' '--config.name=it'\\''s' "
      "> 'runs/my run/logs/process_0.log' 2>&1 &"]


def test_local_keeps_the_callers_xla_flags(tmp_path):
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--devices_per_process=4",
                    "--platform=cpu", "digits_mlp",
                    XLA_FLAGS="--xla_cpu_foo=true --xla_force_host_platform_device_count=8")
  env, _, _ = process(lines[2])
  assert env["XLA_FLAGS"] == "--xla_cpu_foo=true --xla_force_host_platform_device_count=4"


def test_local_picks_one_free_port_for_all(tmp_path):
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--platform=cpu", "digits_mlp")
  addresses = {a for line in lines[2:] for a in process(line)[1]
               if a.startswith("--coordinator_address=")}
  assert len(addresses) == 1
  port = int(re.fullmatch(r"--coordinator_address=127\.0\.0\.1:(\d+)", addresses.pop())[1])
  assert 20000 <= port < 60000


def test_local_gpu_groups_follow_cuda_visible_devices(tmp_path):
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--platform=gpu",
                    "--devices_per_process=2", "--port=5000", "digits_mlp", "w",
                    CUDA_VISIBLE_DEVICES="3,5,6,7")
  assert len(lines) == 2 + 2
  for i, (env, argv, log) in enumerate(map(process, lines[2:])):
    assert env == {"CUDA_VISIBLE_DEVICES": ["3,5", "6,7"][i], "JAX_LOCAL_DEVICE_IDS": "0,1"}
    assert argv == train_argv("digits_mlp", "w", "--coordinator_address=127.0.0.1:5000",
                              "--num_processes=2", f"--process_id={i}", overrides=())
    assert log == f"w/logs/process_{i}.log"


def test_local_defaults_to_one_process_per_gpu(tmp_path):
  gpus = "printf 'GPU 0: H100 (UUID: a)\\nGPU 1: H100 (UUID: b)\\nGPU 2: H100 (UUID: c)\\n'"
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--port=5000", "digits_mlp",
                    bins={"nvidia_smi": gpus})
  envs = [process(line)[0] for line in lines[2:]]
  assert envs == [{"CUDA_VISIBLE_DEVICES": str(i), "JAX_LOCAL_DEVICE_IDS": "0"}
                  for i in range(3)]


def test_local_defaults_to_two_cpu_processes_without_gpus(tmp_path):
  lines = dry_lines(tmp_path, "multiprocess_local.sh", "--port=5000", "digits_mlp")
  assert [process(line)[0]["JAX_PLATFORMS"] for line in lines[2:]] == ["cpu", "cpu"]


def test_gpu_multinode_one_process_per_node(tmp_path):
  lines = dry_lines(tmp_path, "gpu_multinode.sh", "--node_rank=1", "--num_nodes=3",
                    "--coordinator=10.0.0.1:5555", "--gpus_per_node=4", "mnist10k_lenet",
                    "/shared/lenet", *OVERRIDES)
  assert len(lines) == 2 + 1
  env, argv, log = process(lines[2])
  assert env == {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "JAX_LOCAL_DEVICE_IDS": "0,1,2,3"}
  assert argv == train_argv("mnist10k_lenet", "/shared/lenet",
                            "--coordinator_address=10.0.0.1:5555", "--num_processes=3",
                            "--process_id=1")
  assert log == "/shared/lenet/logs/process_1.log"


def test_gpu_multinode_one_process_per_gpu(tmp_path):
  lines = dry_lines(tmp_path, "gpu_multinode.sh", "--node_rank=1", "--num_nodes=2",
                    "--coordinator=node0", "--per=gpu", "mnist10k_lenet", *OVERRIDES,
                    CUDA_VISIBLE_DEVICES="0,1,2,3")
  assert len(lines) == 2 + 4
  for g, (env, argv, log) in enumerate(map(process, lines[2:])):
    assert env == {"CUDA_VISIBLE_DEVICES": str(g), "JAX_LOCAL_DEVICE_IDS": "0"}
    assert argv == train_argv("mnist10k_lenet", "runs/mnist10k_lenet",
                              "--coordinator_address=node0:12355", "--num_processes=8",
                              f"--process_id={4 + g}")
    assert log == f"runs/mnist10k_lenet/logs/process_{4 + g}.log"


SCONTROL = {"scontrol": 'test "$1 $2" = "show hostnames" && printf "gpu003\\ngpu004\\n"'}
JOB = {"SLURM_JOB_ID": "777", "SLURM_JOB_NODELIST": "gpu[003-004]", "SLURM_NNODES": "2"}


def srun_line(workdir, coordinator, overrides=OVERRIDES):
  return ["srun", "--kill-on-bad-exit=1", f"--output={workdir}/logs/process_%t.log",
          *train_argv("mnist10k_lenet", workdir, "--distributed",
                      f"--coordinator_address={coordinator}", overrides=overrides)]


def test_slurm_task_per_node_keeps_every_gpu(tmp_path):
  lines = dry_lines(tmp_path, "slurm.sbatch", "mnist10k_lenet", "/shared/lenet",
                    *OVERRIDES, bins=SCONTROL, **JOB, SLURM_NTASKS="2",
                    SLURM_NTASKS_PER_NODE="1", SLURM_GPUS_ON_NODE="4")
  assert [shlex.split(line) for line in lines] == [
      ["cd", str(REPO)], ["mkdir", "-p", "/shared/lenet/logs"],
      ["JAX_LOCAL_DEVICE_IDS=0,1,2,3",
       *srun_line("/shared/lenet", f"gpu003:{61440 + 777 % 4096}")]]


def test_slurm_task_per_gpu_leaves_devices_to_jax(tmp_path):
  lines = dry_lines(tmp_path, "slurm.sbatch", "--port=4000", "mnist10k_lenet",
                    bins=SCONTROL, **JOB, SLURM_NTASKS="8", SLURM_NTASKS_PER_NODE="4",
                    SLURM_GPUS_ON_NODE="4")
  assert shlex.split(lines[2]) == srun_line("runs/mnist10k_lenet", "gpu003:4000",
                                            overrides=())


def test_slurm_gpus_bound_to_tasks(tmp_path):
  lines = dry_lines(tmp_path, "slurm.sbatch", "--port=4000", "mnist10k_lenet",
                    bins=SCONTROL, **JOB, SLURM_NTASKS="8", SLURM_NTASKS_PER_NODE="4",
                    SLURM_GPUS_PER_TASK="1", CUDA_VISIBLE_DEVICES="2")
  assert shlex.split(lines[2]) == ["JAX_LOCAL_DEVICE_IDS=0", *srun_line(
      "runs/mnist10k_lenet", "gpu003:4000", overrides=())]


@pytest.mark.skipif(shutil.which("scontrol") is not None, reason="a real scontrol")
@pytest.mark.parametrize("nodelist,first", [
    ("node[001-004,009],gpu7", "node001"), ("solo", "solo"), ("x1,x2", "x1"),
    ("gpu[12,15]", "gpu12"), ("a-b[7-9]", "a-b7")])
def test_slurm_first_node_without_scontrol(tmp_path, nodelist, first):
  lines = dry_lines(tmp_path, "slurm.sbatch", "mnist10k_lenet",
                    SLURM_JOB_NODELIST=nodelist)
  assert shlex.split(lines[2])[-1] == f"--coordinator_address={first}:{61440 + 12345 % 4096}"


def test_slurm_runs_what_it_prints(tmp_path):
  """Outside a dry run, the same line runs: a fake srun records what it got."""
  out = tmp_path / "srun_args"
  job = {**JOB, "SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "1",
         "SLURM_GPUS_ON_NODE": "2"}
  workdir = str(tmp_path / "run")
  printed = dry_lines(tmp_path, "slurm.sbatch", "mnist10k_lenet", workdir, *OVERRIDES,
                      bins=SCONTROL, **job)
  fake = {**SCONTROL, "srun": f'printf "%s\\0" "$JAX_LOCAL_DEVICE_IDS" "$@" > {shlex.quote(str(out))}'}
  proc = launch(tmp_path, "slurm.sbatch", "mnist10k_lenet", workdir, *OVERRIDES,
                bins=fake, **job)
  assert proc.returncode == 0, proc.stderr
  env, *argv = out.read_text().split("\0")[:-1]
  assert ["JAX_LOCAL_DEVICE_IDS=" + env, "srun", *argv] == shlex.split(printed[2])
  assert (tmp_path / "run" / "logs").is_dir()


def test_tpu_vm_runs_train_on_every_worker(tmp_path):
  lines = dry_lines(tmp_path, "tpu_vm.sh", "--tpu=my-v4", "--zone=us-central2-b",
                    "--project=p1", "--remote_dir=nn lib", "mnist10k_lenet",
                    "/mnt/shared/lenet", *OVERRIDES)
  assert len(lines) == 1
  *gcloud, command = shlex.split(lines[0])
  assert gcloud == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "my-v4",
                    "--zone=us-central2-b", "--project=p1", "--worker=all"]
  assert command.startswith("--command=")
  remote = shlex.split(command.removeprefix("--command="))
  assert remote == ["cd", "nn lib", "&&", ".venv/bin/python", "train.py",
                    "--experiment=mnist10k_lenet", "--workdir=/mnt/shared/lenet",
                    "--distributed", *OVERRIDES]


def test_tpu_vm_defaults_and_runs_what_it_prints(tmp_path):
  out = tmp_path / "gcloud_args"
  args = ("--tpu=t", "--zone=z", "--python=py3", "digits_mlp:smoke", *OVERRIDES)
  printed = dry_lines(tmp_path, "tpu_vm.sh", *args)
  *_, command = shlex.split(printed[0])
  assert shlex.split(command.removeprefix("--command="))[:5] == [
      "cd", REPO.name, "&&", "py3", "train.py"]
  assert "--project" not in printed[0]
  proc = launch(tmp_path, "tpu_vm.sh", *args,
                bins={"gcloud": f'printf "%s\\0" "$@" > {shlex.quote(str(out))}'})
  assert proc.returncode == 0, proc.stderr
  assert ["gcloud", *out.read_text().split("\0")[:-1]] == shlex.split(printed[0])


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(tmp_path, script, flag):
  proc = launch(tmp_path, script, flag)
  assert proc.returncode == 0 and proc.stderr == ""
  assert "EXPERIMENT" in proc.stdout and "--dry_run" in proc.stdout
  assert "#" not in proc.stdout.replace("#SBATCH", "")  # the comment, as plain text


BAD = [
    ("multiprocess_local.sh", [], {}, "missing EXPERIMENT"),
    ("multiprocess_local.sh", ["--num_processes=0", "x"], {}, "--num_processes must be"),
    ("multiprocess_local.sh", ["--num_processes=two", "x"], {}, "--num_processes must be"),
    ("multiprocess_local.sh", ["--devices_per_process=-1", "x"], {}, "--devices_per_process"),
    ("multiprocess_local.sh", ["--port=70000", "x"], {}, "--port must be below"),
    ("multiprocess_local.sh", ["--platform=tpu", "x"], {}, "--platform must be cpu or gpu"),
    ("multiprocess_local.sh", ["--bogus", "x"], {}, "unknown option '--bogus'"),
    ("multiprocess_local.sh", ["x", "--process_id=1"], {}, "set by this launcher"),
    ("multiprocess_local.sh", ["x", "--dry_run"], {}, "set by this launcher"),
    ("multiprocess_local.sh", ["--platform=gpu", "x"], {}, "no GPU visible"),
    ("multiprocess_local.sh", ["--platform=gpu", "--num_processes=3",
                               "--devices_per_process=2", "x"],
     {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, "need more than the 4 GPUs"),
    ("multiprocess_local.sh", ["--first_process_id=2", "--total_processes=2", "x"], {},
     "exceed --total_processes=2"),
    ("multiprocess_local.sh", ["--coordinator_host=10.0.0.1", "x"], {}, "--port is required"),
    ("gpu_multinode.sh", ["--num_nodes=2", "--coordinator=h", "x"], {}, "--node_rank"),
    ("gpu_multinode.sh", ["--node_rank=2", "--num_nodes=2", "--coordinator=h", "x"], {},
     "must be below --num_nodes=2"),
    ("gpu_multinode.sh", ["--node_rank=0", "--num_nodes=2", "x"], {}, "--coordinator"),
    ("gpu_multinode.sh", ["--node_rank=0", "--num_nodes=2", "--coordinator=h:", "x"], {},
     "must be HOST[:PORT]"),
    ("gpu_multinode.sh", ["--node_rank=0", "--num_nodes=2", "--coordinator=h", "--per=tpu",
                          "x"], {}, "--per must be node or gpu"),
    ("gpu_multinode.sh", ["--node_rank=0", "--num_nodes=2", "--coordinator=h", "x"], {},
     "no GPU visible"),
    ("slurm.sbatch", [], {}, "missing EXPERIMENT"),
    ("slurm.sbatch", ["--port=0", "x"], {}, "--port must be"),
    ("slurm.sbatch", ["--bogus", "x"], {}, "unknown option"),
    ("slurm.sbatch", ["x"], {}, "not inside a Slurm job"),
    ("slurm.sbatch", ["--dry_run", "x", "--distributed"], {}, "set by this launcher"),
    ("tpu_vm.sh", ["--zone=z", "x"], {}, "missing --tpu"),
    ("tpu_vm.sh", ["--tpu=t", "x"], {}, "missing --zone"),
    ("tpu_vm.sh", ["--tpu=t", "--zone=z"], {}, "missing EXPERIMENT"),
    ("tpu_vm.sh", ["--tpu=t", "--zone=z", "x", "--workdir=y"], {}, "set by this launcher"),
]


@pytest.mark.parametrize("script,args,env,message", BAD,
                         ids=[f"{b[0]}:{' '.join(b[1])}" for b in BAD])
def test_bad_arguments(tmp_path, script, args, env, message):
  proc = launch(tmp_path, script, *args, **env)
  assert proc.returncode == 2, proc.stdout + proc.stderr
  assert proc.stdout == ""
  assert proc.stderr.count("\n") == 1 and f"{script}: error: " in proc.stderr
  assert message in proc.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_executable_and_strict(script):
  path = LAUNCH / script
  assert os.access(path, os.X_OK)
  assert path.read_text().splitlines()[0] == "#!/usr/bin/env bash"
  assert "\nset -euo pipefail\n" in path.read_text()
