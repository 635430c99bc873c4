"""What the benchmarks' driver processes share: run one measurement in a fresh worker process, and ask the sandbox
SIS's admin endpoint to change or count its roster."""
import json
import subprocess
import sys
import urllib.request


def measure_in_worker(script: str, root: str, mode: str, *args: str) -> dict:
    """Run `script --worker MODE ARGS…` in a fresh process (so its peak RSS is its own); its last line is JSON."""
    out = subprocess.run([sys.executable, script, "--worker", mode, *args], cwd=root, capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{mode} worker failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result.get("status") not in (None, "succeeded"):
        raise RuntimeError(f"{mode} ended {result['status']}: {result.get('error')}")
    return result


def sandbox_admin(info: dict, action: str, timeout: float = 120, **kwargs) -> dict:
    body = json.dumps({"action": action, **kwargs}).encode()
    request = urllib.request.Request(info["admin_url"], data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read())
