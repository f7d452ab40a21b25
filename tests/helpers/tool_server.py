"""A warm start for the tools the tests run.

Every tool process spends about 7 of its 11 s of fixed start-up importing torch, MMEngine,
MMDetection (whose ``mmdet.utils`` pulls in seaborn and scipy) and this package, before a
tiny test run trains for 2 or 3 s. This server imports them once, then forks one child per
tool run: the child changes to the run's folder and environment, points its stdout and
stderr at a file, runs ``tools/<tool>`` as ``__main__`` (as ``python tools/<tool>`` does)
and exits with the tool's status. Nothing else runs in the server: no Runner, no model,
no torch operation, so each child starts from the state of a fresh interpreter that has
imported these modules.

Protocol (one JSON line each way): request ``{"tool", "args", "cwd", "env", "out"}``;
reply ``{"pid": N}`` when the child starts, then ``{"code": C}`` when it ends.
"""
import json
import os
import runpy
import sys
import traceback

PRELOADED = ('torch', 'torchvision', 'matplotlib.pyplot', 'pycocotools.coco',
             'mmengine.runner', 'mmdet.utils', 'mmdet.apis', 'mmdet.models', 'mmdet.datasets',
             'mmdet.evaluation', 'mmdet.engine', 'mmclipjoint', 'mmclipjoint.utils.tools',
             'mmclipjoint.study')


def _exit_code(error: SystemExit) -> int:
    """The status ``python tool.py`` would exit with after ``error``."""
    if error.code is None:
        return 0
    if isinstance(error.code, int):
        return error.code
    print(error.code, file=sys.stderr)
    return 1


def _child(request: dict) -> None:
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        out = os.open(request['out'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = sys.__stdout__  # fd 1: the run's output file
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        extra = [p for p in request['env'].get('PYTHONPATH', '').split(os.pathsep) if p]
        sys.path[:0] = [p for p in extra if p not in sys.path]
        sys.argv = [request['tool']] + request['args']
        try:
            runpy.run_path(request['tool'], run_name='__main__')
            code = 0
        except SystemExit as error:
            code = _exit_code(error)
        except BaseException:  # noqa: B036  (what the interpreter would print)
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    import importlib
    for name in PRELOADED:
        importlib.import_module(name)
    replies = os.fdopen(os.dup(1), 'w', buffering=1)
    sys.stdout = sys.stderr  # stray prints of the server never reach the replies
    replies.write('{"ready": true}\n')
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            replies.close()
            _child(request)
        replies.write(json.dumps(dict(pid=pid)) + '\n')
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps(dict(code=os.waitstatus_to_exitcode(status))) + '\n')


if __name__ == '__main__':
    serve()
