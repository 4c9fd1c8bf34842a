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


def _os_error(error: OSError, path: Path) -> str:
    import errno

    reasons = {errno.ENOENT: "目录不存在", errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限",
               errno.ENOSPC: "磁盘空间不足", errno.EROFS: "文件系统只读", errno.EISDIR: "这是一个目录",
               errno.ENOTDIR: "路径中有一段不是目录"}
    reason = reasons.get(error.errno or 0, error.strerror or str(error))
    return f"无法写入 {error.filename or path}:{reason}"


def _load_clean(args: argparse.Namespace):
    """The handbook, or None after printing every problem (outputs are never built from a broken source)."""
    hb, problems = load_handbook(_root(args.root))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"源文件有 {len(problems)} 个问题,未生成任何文件;请先修正(可运行 handbook check 查看)。", file=sys.stderr)
        return None
    return hb


def _rendering(action, target: Path):
    """Run a PDF-writing action; on failure print one Chinese line (never a traceback) and return None."""
    from .pdf import FontError

    try:
        return action()
    except FontError as error:
        print(f"生成 PDF 失败:{error}", file=sys.stderr)
    except OSError as error:
        print(_os_error(error, target), file=sys.stderr)
    except Exception as error:  # an edge: report, never a traceback
        print(f"生成 PDF 失败:{type(error).__name__}: {error}", file=sys.stderr)
    return None


def cmd_pdf(args: argparse.Namespace) -> int:
    hb = _load_clean(args)
    if hb is None:
        return 1
    from .pdf import write_form_pdfs

    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        print(f"输出目录 {outdir} 已存在但不是目录。", file=sys.stderr)
        return 1
    written = _rendering(lambda: write_form_pdfs(hb, outdir), outdir)
    if written is None:
        return 1
    pdfs = [p for p in written if p.suffix == ".pdf"]
    print(f"已生成 {len(pdfs)} 张表单的 PDF 和 HTML:{outdir}")
    return 0


def cmd_daily_pack(args: argparse.Namespace) -> int:
    import datetime as dt

    try:
        date = dt.date.fromisoformat(args.date) if args.date else dt.date.today()
    except ValueError:
        print(f"日期 “{args.date}” 无效:请写成 YYYY-MM-DD,例如 2026-12-01。", file=sys.stderr)
        return 1
    hb = _load_clean(args)
    if hb is None:
        return 1
    from .pdf import daily_forms, daily_pack, unknown_forms
    from .problems import did_you_mean

    unknown = unknown_forms(hb, args.forms or ())
    if unknown:
        hint = did_you_mean(unknown[0], [f.id for f in hb.forms])
        print(f"没有表单 “{unknown[0]}”{hint}(可用:{'、'.join(f.id for f in hb.forms)})", file=sys.stderr)
        return 1
    if not args.forms and not daily_forms(hb):
        print("没有适合每日打印的表单:请用 --form 指定。", file=sys.stderr)
        return 1
    outfile = Path(args.outfile)
    def write_pack() -> bool:
        data = daily_pack(hb, date, args.forms or None)
        outfile.parent.mkdir(parents=True, exist_ok=True)
        outfile.write_bytes(data)
        return True

    if _rendering(write_pack, outfile) is None:
        return 1
    names = "、".join(hb.form(i).title for i in args.forms) if args.forms else \
        "、".join(f.title for f in daily_forms(hb))
    print(f"已生成 {date.isoformat()} 的班次表单包:{outfile}({names})")
    return 0


def cmd_exam(args: argparse.Namespace) -> int:
    hb = _load_clean(args)
    if hb is None:
        return 1
    if not hb.paths:
        print("没有学习路径:在 regulations/paths.yaml 中定义后再生成试卷。", file=sys.stderr)
        return 1
    from .pdf.exam import write_exams

    outdir = Path(args.outdir)
    written = _rendering(lambda: write_exams(hb, outdir), outdir)
    if written is None:
        return 1
    print(f"已生成 {len(hb.paths)} 条学习路径的试卷和答案(共 {len(written)} 个 PDF):{outdir}")
    return 0


def cmd_book(args: argparse.Namespace) -> int:
    hb = _load_clean(args)
    if hb is None:
        return 1
    from .files import write_atomically
    from .pdf.book import book_pdf, book_regulations

    roles = hb.organisation.roles
    if args.role is not None and args.role not in roles:
        from .problems import did_you_mean

        valid = "、".join(f"{r.id}({r.name})" for r in roles.values())
        hint = did_you_mean(args.role, list(roles)) or "。"
        print(f"--role:没有岗位 “{args.role}”{hint}可用的岗位:{valid}", file=sys.stderr)
        return 1
    outfile = Path(args.outfile)

    def write_book() -> bool:
        data = book_pdf(hb, args.role)
        outfile.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(outfile, data)
        return True

    if _rendering(write_book, outfile) is None:
        return 1
    who = f"{roles[args.role].name}适用的" if args.role else "全部"
    print(f"已生成员工手册({who} {len(book_regulations(hb, args.role))} 项制度):{outfile}")
    return 0


def cmd_qr(args: argparse.Namespace) -> int:
    base_url = args.base_url.strip()
    if not base_url.startswith(("http://", "https://")) or len(base_url) < 10 or any(c.isspace() for c in base_url):
        print(f"--base-url “{base_url}” 不是网址:写成表单服务器的地址,例如 https://forms.example.cn", file=sys.stderr)
        return 1
    hb = _load_clean(args)
    if hb is None:
        return 1
    if hb.rules.checkpoints is None or not hb.rules.checkpoints.points:
        print("没有巡更点:在 checklists/rules/checkpoints.yaml 中定义后再打印海报。", file=sys.stderr)
        return 1
    from .pdf.qr import write_posters

    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        print(f"输出目录 {outdir} 已存在但不是目录。", file=sys.stderr)
        return 1
    written = _rendering(lambda: write_posters(hb, outdir, base_url), outdir)
    if written is None:
        return 1
    print(f"已生成 {len([p for p in written if p.suffix == '.pdf'])} 个巡更点的二维码海报:{outdir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handbook", description="客服制度手册:检查与生成工具")
    parser.add_argument("--root", help="项目根目录(默认:向上查找含 regulations/ 的目录)")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="检查 regulations/ 与 checklists/ 中的所有源文件")
    check.set_defaults(func=cmd_check)
    pdf = sub.add_parser("pdf", help="把每张表单生成为可打印的 PDF(及同名 HTML),写入 OUTDIR")
    pdf.add_argument("outdir", metavar="OUTDIR", help="输出目录:每张表单写 <id>.pdf 和 <id>.html")
    pdf.set_defaults(func=cmd_pdf)
    pack = sub.add_parser("daily-pack", help="生成某一天各班次要用的表单合订 PDF(已填好日期)")
    pack.add_argument("--date", metavar="YYYY-MM-DD", help="日期(默认:今天)")
    pack.add_argument("--form", dest="forms", action="append", metavar="ID",
                      help="只包含这张表单(可重复);默认:值班/客服人员每班填写的表单")
    pack.add_argument("outfile", metavar="OUTFILE", help="输出的 PDF 文件")
    pack.set_defaults(func=cmd_daily_pack)
    exam = sub.add_parser("exam", help="为每条学习路径生成纸质试卷和单独的答案"
                          "(exam-<路径>.pdf、exam-<路径>-answers.pdf)")
    exam.add_argument("outdir", metavar="OUTDIR", help="输出目录")
    exam.set_defaults(func=cmd_exam)
    book = sub.add_parser("book", help="把整本制度手册(或某一岗位适用的制度)生成为一本 A4 员工手册 PDF:"
                          "封面、目录、各项制度、条款索引和签收页")
    book.add_argument("--role", metavar="ROLE", help="只收录适用于该岗位的制度(organisation.yaml 中的岗位 id)")
    book.add_argument("outfile", metavar="OUT.pdf", help="输出的 PDF 文件")
    book.set_defaults(func=cmd_book)
    qr = sub.add_parser("qr", help="为 checklists/rules/checkpoints.yaml 的每个巡更点生成一张 A4 二维码海报"
                        "(<巡更点编号>.pdf 及同名 HTML)")
    qr.add_argument("outdir", metavar="OUTDIR", help="输出目录")
    qr.add_argument("--base-url", required=True, metavar="URL",
                    help="表单服务器的地址,二维码打开 URL/qr/<巡更点编号>,例如 https://forms.example.cn")
    qr.set_defaults(func=cmd_qr)
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
