"""The GitHub Actions workflows: actionlint-clean, and their costperf glue works when executed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from test_review import history_folder  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def actionlint() -> str:
    found = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail("actionlint not found: install the test extra (pip install -e '.[test]')")
    return found


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def step(workflow: dict[str, Any], job: str, name: str) -> dict[str, Any]:
    return next(s for s in workflow["jobs"][job]["steps"] if s.get("name") == name)


def run_step(script: str, cwd: Path, tmp: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str],
                                                                              dict[str, str], str]:
    """Run a step's script with bash as GitHub does (-e, pipefail) and read back its outputs."""
    output, summary = tmp / "github_output", tmp / "step_summary"
    output.write_text("")
    summary.write_text("")
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp), **env}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=60)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs, summary.read_text()


def test_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "rebenchmark.yml"]
    proc = subprocess.run([actionlint(), "-no-color", *map(str, files)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = (WORKFLOWS / "rebenchmark.yml").read_text().replace("needs.plan.outputs.any", "needs.plann.outputs.any")
    (tmp_path / "broken.yml").write_text(broken)
    proc = subprocess.run([actionlint(), "-no-color", str(tmp_path / "broken.yml")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and "plann" in proc.stdout


def test_rebenchmark_shape() -> None:
    wf = load("rebenchmark.yml")
    assert wf["on"]["schedule"][0]["cron"] and "workflow_dispatch" in wf["on"]
    bench = wf["jobs"]["bench"]
    assert bench["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert bench["runs-on"] == ["self-hosted", "${{ matrix.runner }}"]
    scripts = "\n".join(s.get("run", "") for s in bench["steps"])
    assert 'costperf run --suite "$SUITE" --machine "$MACHINE"' in scripts
    assert "costperf validate" in scripts
    assert bench["env"]["SUITE"] == "${{ inputs.suite || 'standard' }}"
    pr = next(s for s in bench["steps"] if s.get("uses", "").startswith("peter-evans/create-pull-request@"))
    assert pr["with"]["add-paths"] == "${{ steps.run.outputs.file }}"
    assert "${{ github.run_id }}" in pr["with"]["branch"]  # a new branch each run: never overwrites a pending PR
    # Every matrix field the job uses is one that `costperf runners --json` emits.
    used = set(re.findall(r"matrix\.(\w+)", (WORKFLOWS / "rebenchmark.yml").read_text()))
    assert used == {"machine", "runner"}


def test_ci_shape() -> None:
    wf = load("ci.yml")
    assert "pull_request" in wf["on"]
    scripts = "\n".join(s.get("run", "") for s in wf["jobs"]["test"]["steps"])
    assert "bash .ci/run" in scripts and "costperf report" in scripts and "costperf review" in scripts


def test_plan_step_builds_the_matrix(history_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    script = step(load("rebenchmark.yml"), "plan", "List machines with a runner label")["run"]
    proc, out, summary = run_step(script, history_folder.parent, tmp_path, {"ONLY": ""})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out["matrix"]) == {"include": [{"machine": "bench-a", "runner": "gpu-a"},
                                                     {"machine": "bench-b", "runner": "gpu-b"}]}
    assert out["any"] == "true" and "bench-a" in summary
    proc, out, _ = run_step(script, history_folder.parent, tmp_path, {"ONLY": "bench-c"})
    assert proc.returncode == 0 and out["any"] == "false" and json.loads(out["matrix"]) == {"include": []}


def test_review_step_writes_the_pr_body_and_labels(history_folder: Path, tmp_path: Path) -> None:  # noqa: F811
    script = step(load("rebenchmark.yml"), "bench", "Review the new run against earlier ones")["run"]
    env = {"SUITE": "standard", "RUN_URL": "https://github.com/o/r/actions/runs/1", "NEW_FILE": "data/runs/x.json"}
    proc, out, summary = run_step(script, history_folder.parent, tmp_path, {**env, "MACHINE": "bench-a"})
    assert proc.returncode == 0, proc.stderr
    body = Path(out["body"]).read_text()
    assert out["labels"] == "rebenchmark,regression"
    assert re.search(r"^REGRESSION +bench-a +decode", body, re.M) and "torch: 2.12.0 → 2.13.0" in body
    assert body in summary
    proc, out, _ = run_step(script, history_folder.parent, tmp_path, {**env, "MACHINE": "bench-b"})
    assert proc.returncode == 0 and out["labels"] == "rebenchmark"
    assert "REGRESSION" not in Path(out["body"]).read_text()
    # A broken data folder fails the step instead of opening a pull request.
    (history_folder / "machines" / "bench-b.yaml").write_text("id: [")
    proc, out, _ = run_step(script, history_folder.parent, tmp_path, {**env, "MACHINE": "bench-b"})
    assert proc.returncode != 0 and "labels" not in out
