"""The `handbook` command: check the source, write PDFs, print statistics.

A thin edge: it turns library results into lines on stderr and an exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .load import load_handbook


def _root(value: str | None) -> Path:
    if value:
        return Path(value)
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "regulations").is_dir():
            return candidate
    return here


def cmd_check(args: argparse.Namespace) -> int:
    hb, problems = load_handbook(_root(args.root))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"发现 {len(problems)} 个问题。", file=sys.stderr)
        return 1
    print(f"检查通过:{len(hb.regulations)} 项制度,{len(hb.clauses)} 个条款,{len(hb.tables)} 张表格,"
          f"{len(hb.forms)} 张表单,{len(hb.questions)} 道测验题。")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handbook", description="客服制度手册:检查与生成工具")
    parser.add_argument("--root", help="项目根目录(默认:向上查找含 regulations/ 的目录)")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="检查 regulations/ 与 checklists/ 中的所有源文件")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
