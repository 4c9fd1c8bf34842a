"""Problems found in the source, and the one catalogue of their messages.

Every message reads: where (file:line) → what is wrong → how to fix it, in Chinese, because the
people who maintain the regulations read Chinese. Codes are stable English keys so tests and tools
can match on them without parsing prose.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# code → (what is wrong, how to fix it); both are str.format templates.
CATALOGUE: dict[str, tuple[str, str]] = {
    "yaml-syntax": ("YAML 语法错误:{detail}", "检查缩进、冒号后的空格和引号是否成对"),
    "yaml-tab": ("YAML 中不能用制表符缩进", "把制表符换成空格"),
    "yaml-control-char": ("文件含有不允许的控制字符 {char}", "删除该字符(常见于从网页或 Word 复制的文字)"),
    "yaml-duplicate-key": ("键 “{key}” 重复出现(第一次在第 {first} 行)", "删除或合并重复的键"),
    "yaml-alias": ("不支持 YAML 锚点和别名(&、*)", "把内容直接写出来"),
    "yaml-not-text": ("文件不是 UTF-8 文本:{detail}", "用 UTF-8 编码保存文件"),
    "type-mapping": ("“{field}” 应是键值映射(key: value),实际是{actual}", "按格式说明改写为映射"),
    "type-list": ("“{field}” 应是列表,实际是{actual}", "改写为列表:每项一行,以 “- ” 开头"),
    "type-text": ("“{field}” 应是文字,实际是{actual}", "写成一行文字"),
    "empty": ("“{field}” 不能为空", "填写内容"),
    "flow-comma": ("“{key}” 被当成了字段名:{{ }} 里的文字含有英文逗号", "把整段文字加上引号,或改用中文逗号“,”"),
    "missing": ("缺少必填字段 “{field}”", "添加 {field}: …"),
    "unknown-key": ("未知字段 “{key}”{hint}", "删除它,或改为允许的字段:{allowed}"),
    "bad-bool": ("“{field}” 应为 true 或 false,实际是 “{value}”", "写 true 或 false(YAML 的 yes/no/on/off 不被接受)"),
    "bad-int": ("“{field}” 应为整数,实际是 “{value}”", "写不带前导零的整数,例如 20"),
    "int-range": ("“{field}” 应在 {low} 到 {high} 之间,实际是 {value}", "改为 {low} 到 {high} 之间的整数"),
    "bad-date": ("“{field}” 不是有效日期:“{value}”", "写成 YYYY-MM-DD,例如 2026-12-01"),
    "bad-time": ("“{field}” 不是有效时间:“{value}”", '写成带引号的 "HH:MM",例如 "16:00"'),
    "bad-choice": ("“{field}” 的值 “{value}” 不在允许范围内{hint}", "改为以下之一:{allowed}"),
    "bad-id": ("“{field}” 的编号 “{value}” 格式不对", "编号应形如 {pattern}"),
    "duplicate-id": ("编号 “{id}” 重复(另见 {other})", "编号必须唯一:给其中一个换用新的编号"),
    "dangling-ref": ("引用了不存在的{what} “{ref}”{hint}", "改为已有的编号,或先添加被引用的{what}"),
    "front-matter": ("缺少 YAML 文件头", "文件开头写 ---,再写字段,再写 --- 结束"),
    "front-matter-open": ("YAML 文件头没有结束", "在字段之后加一行 ---"),
    "heading-level": ("正文不能使用一级标题 “# ”", "标题由 title 字段生成;章节请用 “## ”"),
    "clause-prefix": ("条款编号 “{id}” 不属于本制度 {reg}", "条款编号应以 {reg}. 开头"),
    "clause-empty": ("条款 “{id}” 没有内容", "在编号后写出条款内容"),
    "no-clauses": ("制度 “{reg}” 没有任何条款", "至少写一条以 [{reg}.1] 开头的条款"),
    "placeholder": ("未知占位符 “{{{{ {name} }}}}”{hint}", "改用 organisation.yaml 中已有的键"),
    "table-placement": ("表格 “{table}” {detail}", "在制度 {reg} 的正文中单独一行写 [[table:{table}]],且只写一次"),
    "revision-mismatch": ("当前版本 “{revision}” 不是修订记录中的最后一版 “{last}”", "在 revisions 末尾加入当前版本的修订记录"),
    "revision-order": ("修订记录的日期没有按先后顺序排列", "修订记录按时间从早到晚排列"),
    "effective-before": ("发行日期 {effective} 早于当前版本的修订日期 {date}", "发行日期应不早于最后一次修订的日期"),
    "question-no-answer": ("题目 “{id}” 没有正确答案", "至少把一个选项标记为 correct: true"),
    "question-single-many": ("单选题 “{id}” 有 {count} 个正确答案", "单选题只能有一个正确答案;或改为 kind: multiple"),
    "question-options": ("题目 “{id}” 的选项数目应为 2 到 6 个,实际 {count} 个", "调整选项数目"),
    "question-answer-field": ("题目 “{id}”:{detail}", "判断题只写 answer: true/false;选择题只写 options"),
    "question-prefix": ("题目编号 “{id}” 不属于制度 {reg}", "题目编号应形如 {reg}-Q1"),
    "quiz-regulation": ("测验文件名 “{name}” 与 regulation 字段 “{reg}” 不一致", "把文件命名为 {reg}.yaml"),
    "form-file-name": ("表单文件名 “{name}” 与 id “{id}” 不一致", "把文件命名为 {id}.yaml"),
    "form-item-kind-field": ("“{field}” 不适用于 {kind} 类型的项目", "删除该字段,或改用合适的类型"),
    "form-options": ("选择项目 “{id}” 须有且只有 options 或 options_from 之一", "写 options: [选项1, 选项2],或 options_from: shifts(areas、roles、departments)"),
    "form-columns": ("登记表项目 “{id}” 缺少列定义", "添加 columns: 列表,每列是一个简单类型的项目"),
    "form-nested-table": ("登记表 “{id}” 的列不能是 {kind} 类型", "列只能是文字、数字、日期、时间、选择、人员、是否、检查类型"),
    "form-training-results": ("人员项目 “{id}”:{detail}", "training_results: true 只用于表头或栏目中的一个人员(person)项目,表示被考核的员工"),
    "form-condition": ("show_when 写法不对:{detail}",
                       "写成 show_when: {{item: 项目编号, is: 回答}}(或 is_not: 回答、in: [回答, …]);几个条件写 all: [...] 或 any: [...]"),
    "form-condition-item": ("条件引用了本表单中不存在的项目 “{ref}”{hint}", "改为本表单中排在前面的项目编号(登记表的列不能作条件)"),
    "form-condition-kind": ("条件引用的项目 “{ref}” 是{kind}", "条件只能看是/否、检查项(正常/异常)或选择项目的回答"),
    "form-condition-value": ("项目 “{ref}” 不会有回答 “{value}”{hint}", "改为它的回答之一:{allowed}"),
    "form-condition-after": ("“{id}” 的条件引用了排在它后面的项目 “{ref}”(第 {at} 行)",
                             "条件只能看前面的回答:把 “{ref}” 移到 “{id}” 之前,或改为引用前面的项目"),
    "form-condition-cycle": ("条件互相依赖,形成循环:{chain}", "删去其中一个条件,让每个项目只取决于排在它前面的项目"),
    "form-score": ("计分 score 写法不对:{detail}",
                   "写成 score: {{label: 巡查合格率, items: [检查项编号, {{item: 检查项编号, weight: 2}}]}};只有检查项能计分"),
    "date-bound": ("日期项目的 “{field}” 写法不对:“{value}”", "写成固定日期或相对填表当天的偏移,例如 {examples}"),
    "number-range": ("“{id}” 的最小值 {min} 大于最大值 {max}", "调整 min/max"),
    "fine-range": ("罚款上限 {fine_max} 小于罚款 {fine}", "fine_max 应不小于 fine"),
    "workflow-steps": ("流程 “{id}”:{detail}", "按 checklists/rules/workflows.yaml 开头的说明改写步骤"),
    "workflow-due": ("时限写法不对:{detail}", "写成 due: {{from: accepted, hours: 24}} 或 due: {{from: open, days: 3}}"),
    "report-figure": ("统计项 “{id}” 须写且只写 count、sum、rate、score 之一",
                      "count 或 score: 表单编号;sum 或 rate: [表单编号.项目编号]"),
    "report-score": ("统计项取表单 “{form}” 的得分,但这张表单没有定义得分(score:)",
                     "在表单文件中加 score: 说明计分的检查项,或改用 count/rate"),
    "rules-item-kind": ("项目 “{id}” 是{kind},这里只能用{allowed}", "改为引用合适类型的项目"),
    "rules-uncited": ("{what} 没有引用允许它的条款",
                      "在旁边写 {key}: 条款编号,引用写明“{value}”的条款;没有这样的条款,先在制度中增加一条并在修订记录中写明理由,"
                      "或删去这条规则"),
    "rules-unstated": ("{what} 引用的 {refs} 没有写明“{value}”",
                       "改为引用写明“{value}”的条款;或修订该条款(修订记录写明理由),或把规则改为条款所写的值"),
    "notify-workflow": ("事件 “{event}” 不按流程区分,不能写 workflow", "删去 workflow;只有 case_due 可按流程分别设置"),
    "notify-workflow-due": ("流程 “{workflow}” 没有带时限(due)的步骤,无从提醒到期",
                            "删去这条事件,或先在 workflows.yaml 中给该流程的步骤加上 due 并引用规定时限的条款"),
    "checkpoints-form": ("巡更点扫码打开的表单 “{form}” 没有取自区域的选择项目 area", "改为巡查检查表(patrol),或给该表单加上 {{id: area, kind: choice, options_from: areas}}"),
    "no-files": ("目录中没有找到任何{what}", "检查路径是否正确"),
}


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one source file."""

    path: str
    line: int
    code: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message} — {self.fix}"


def make_problem(path: str | Path, line: int, code: str, **values: object) -> Problem:
    what, fix = CATALOGUE[code]
    return Problem(str(path), line, code, what.format(**values), fix.format(**values))


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ',是否要写 “x”?' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f",是否要写 “{close[0]}”?" if close else ""


class SourceError(Exception):
    """Raised by edges (CLI, MkDocs, server start) when the source has problems."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
