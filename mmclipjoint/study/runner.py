"""Running the study's grid: each run trained with the checkout's ``tools/train.py`` and
its last checkpoint evaluated with ``tools/test.py`` on the held-out test split, each in
its own process (the path a user takes); finished runs saved as they end, so that a
study cut short resumes where it stopped."""
import ctypes
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from .grid import REPO_ROOT, fused_option, noise_tag, run_config
from .report import noise_mode
from .results import load_results, reused_row, save_results


def last_metrics(work_dir: str) -> Dict[str, float]:
    """The coco/* scalars of the newest run logged in ``work_dir``."""
    stamps = sorted(d for d in os.listdir(work_dir) if d[:1].isdigit())
    newest = osp.join(work_dir, stamps[-1])
    for path in (osp.join(newest, 'vis_data', f'{stamps[-1]}.json'),
                 osp.join(newest, f'{stamps[-1]}.json')):
        if osp.isfile(path):
            records = [json.loads(line) for line in open(path)]
            metrics = [r for r in records if any(k.startswith('coco/') for k in r)]
            return {k.split('/', 1)[1]: v for k, v in metrics[-1].items()
                    if k.startswith('coco/')}
    raise RuntimeError(f'no metrics logged in {newest}')


def device_name() -> str:
    """Where the runs train: ``cuda: <GPU name>`` or ``cpu`` (a study may be run on both
    kinds of machine; its rows say which)."""
    import torch
    return f'cuda: {torch.cuda.get_device_name()}' if torch.cuda.is_available() else 'cpu'


def git_commit() -> str:
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO_ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def prepare(run: dict, out: str) -> Tuple[str, str, str]:
    """Write the run's derived config; its (run folder, data folder, config path).

    Parsing configs is kept out of worker threads: mmengine resolves ``mmdet::`` bases
    through pkg_resources, whose first use is not thread-safe.
    """
    run_dir = osp.join(out, 'runs', run['id'])
    os.makedirs(run_dir, exist_ok=True)
    run['fused_option'] = fused_option(Config.fromfile(run['config_path']).model)
    # One data folder per (noise, imbalance): the runs of a cell share it.
    noise = noise_tag(run['noise'], run.get('noise_pairs'))
    data_root = osp.join(out, 'data', f"shapes_noise{noise}_imb{run['imbalance']:g}/")
    config = osp.join(run_dir, 'config.py')
    with open(config, 'w') as f:
        f.write(run_config(run, data_root))
    # The same run's config, its test loader and evaluator those of the validation split:
    # tools/test.py on it gives the validation metrics of another inference mode.
    with open(osp.join(run_dir, 'config_val.py'), 'w') as f:
        f.write("_base_ = './config.py'\ntest_dataloader = _base_.val_dataloader\n"
                'test_evaluator = _base_.val_evaluator\n')
    return run_dir, data_root, config


# Resolved here, not in the child: between fork and exec only a C call is made.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith('linux') else None


def die_with_parent() -> None:
    """In a run's process, before it starts: ask Linux to kill it when the study dies.
    A study killed outright (SIGKILL, a lost session) would otherwise leave its training
    running on, writing into the run folder that the next study redoes."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def tool_path(name: str) -> str:
    path = osp.join(REPO_ROOT, 'tools', name)
    if not osp.isfile(path):
        raise SystemExit(f'study: {path} not found; the study runs the tools of the source '
                         f'checkout mmclipjoint was installed from (pip install -e .)')
    return path


def execute(run: dict, out: str, threads: Optional[int] = None,
            prepared: Optional[Tuple[str, str, str]] = None) -> dict:
    """Train and test one run in their own processes; the row of the results table."""
    run_dir, data_root, config = prepared or prepare(run, out)
    start = time.time()
    checkpoint = osp.join(run_dir, f"epoch_{run['epochs']}.pth")
    commands = [('train', 'train.py', [config, '--work-dir', run_dir], []),
                ('test', 'test.py', [config, checkpoint, '--work-dir',
                                     osp.join(run_dir, 'test')], [])]
    if run.get('fused_option'):
        for split, path in (('test', config), ('val', osp.join(run_dir, 'config_val.py'))):
            commands.append((f'{split}_fused', 'test.py',
                             [path, checkpoint, '--work-dir', osp.join(run_dir,
                                                                       f'{split}_fused')],
                             run['fused_option'].split()))
    for name, tool, args, extra in commands:
        overrides = run['cfg_options'] + extra
        options = ['--cfg-options', *overrides] if overrides else []
        env = dict(os.environ, OMP_NUM_THREADS=str(threads)) if threads else None
        with open(osp.join(run_dir, f'{name}.log'), 'w') as log:
            proc = subprocess.run([sys.executable, tool_path(tool), *args, *options],
                                  cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  env=env, preexec_fn=die_with_parent)
        if proc.returncode:
            raise RuntimeError(f"{tool} failed for run {run['id']}; see "
                               f'{osp.join(run_dir, name)}.log')
    val = last_metrics(run_dir)
    test = last_metrics(osp.join(run_dir, 'test'))
    fused = {f'{split}_fused': last_metrics(osp.join(run_dir, f'{split}_fused'))
             for split in ('val', 'test') if run.get('fused_option')}
    meta = json.load(open(osp.join(data_root, 'meta.json')))
    return dict({k: v for k, v in run.items() if k != 'config_path'},
                val=val, test=test, **fused, minutes=(time.time() - start) / 60,
                commit=git_commit(), device=device_name(), classes=meta['classes'],
                train_class_counts=meta['train']['label_class_counts'])


def run_study(runs: List[dict], out: str, jobs: int = 1,
              reuse: Sequence[str] = ()) -> List[dict]:
    """Run the runs of ``runs`` not yet in ``<out>/results.json`` (``jobs`` at a time, each
    with cores / jobs threads), taking the rows of the same runs from the ``reuse``
    results files instead of training them; returns every row of the results file."""
    from tqdm import tqdm
    results_path = osp.join(out, 'results.json')
    rows = load_results(results_path)
    noise_mode(rows + runs)  # one kind of label noise per results file, checked up front
    done = {row['id'] for row in rows}
    pending = [run for run in runs if run['id'] not in done]
    print(f'study: {len(done)} runs done in {results_path}, {len(pending)} to run')
    bar = tqdm(total=len(pending), unit='run', dynamic_ncols=True)
    if jobs <= 1:
        for run in pending:
            bar.set_postfix_str(f"{run['config']} noise {run['noise']:g} seed {run['seed']}")
            # Read again before each run: the other study may be running alongside.
            reused = reused_row(run, reuse)
            rows.append(reused or execute(run, out))
            rows = save_results(results_path, rows)
            bar.update()
    else:
        # Several runs at once, each in its own processes; results saved as they end.
        from concurrent.futures import ThreadPoolExecutor, as_completed
        threads = max(1, (os.cpu_count() or 1) // jobs)
        for run in list(pending):
            reused = reused_row(run, reuse)
            if reused:
                rows.append(reused)
                pending.remove(run)
                bar.update()
        rows = save_results(results_path, rows)
        prepared = [prepare(run, out) for run in pending]
        with ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(execute, run, out, threads, paths)
                       for run, paths in zip(pending, prepared)]
            for future in as_completed(futures):
                row = future.result()
                rows = save_results(results_path, rows + [row])
                bar.set_postfix_str(f"done: {row['config']} noise {row['noise']:g} "
                                    f"seed {row['seed']}")
                bar.update()
    bar.close()
    return rows
