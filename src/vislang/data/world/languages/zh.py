"""Mandarin Chinese (simplified): numeral + measure word + modifiers + noun, locative frames.

Every counted noun takes its measure word (个, 颗 for stars; 张 for pictures), "two"
before a measure word is 两; modifiers take 的 ("红色的大圆形") except inside a landmark
("蓝色正方形的左边"); existence is 有/没有 with the place first ("图中有…"); questions end
in 吗 or use 几 + measure word.
"""

from __future__ import annotations

from vislang.data.world import frames as f
from vislang.data.world.languages.base import Grammar

# shape -> (noun used in sentences, measure word, citation form used as an answer)
_NOUNS = {
    "circle": ("圆形", "个", "圆形"),
    "square": ("正方形", "个", "正方形"),
    "triangle": ("三角形", "个", "三角形"),
    "star": ("星星", "颗", "星形"),
    "cross": ("十字", "个", "十字形"),
    "heart": ("心形", "个", "心形"),
    None: ("图形", "个", "图形"),
}
_COLOURS = {
    "red": "红色",
    "orange": "橙色",
    "yellow": "黄色",
    "green": "绿色",
    "blue": "蓝色",
    "purple": "紫色",
    "brown": "棕色",
    "black": "黑色",
}
_SIZES = {"small": "小", "large": "大"}
_DIGITS = ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
_SIDES = {"left_of": "左边", "right_of": "右边", "above": "上面", "below": "下面"}
_DIRECTIONS = {"left": "向左", "right": "向右", "up": "向上", "down": "向下"}


def _number(n: int) -> str:
    """The numeral before a measure word (两 for two)."""
    if n == 2:
        return "两"
    return _DIGITS[n] if n < len(_DIGITS) else str(n)


def _modified(np: f.NP) -> str:
    """ "红色的大圆形": colour + 的, then size directly on the noun."""
    noun = _NOUNS[np.shape][0]
    head = (_SIZES[np.size] if np.size else "") + noun
    return f"{_COLOURS[np.colour]}的{head}" if np.colour else head


def _compact(np: f.NP) -> str:
    """A landmark inside a locative phrase: "蓝色正方形" (no 的)."""
    return (_COLOURS[np.colour] if np.colour else "") + _modified(f.NP(np.shape, None, np.size))


def _counted(np: f.NP, count: int) -> str:
    return _number(count) + _NOUNS[np.shape][1] + _modified(np)


def _quantified(item: f.Item) -> str:
    if item.count is None:
        return "一些" + _modified(item.np)
    return _counted(item.np, item.count)


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "、".join(parts[:-1]) + "和" + parts[-1]


class Chinese(Grammar):
    """Mandarin Chinese grammar."""

    code = "zh"
    name = "Chinese"
    script = "Han"

    def sentence(self, text: str, end: str = "。") -> str:
        """Chinese sentences take full-width punctuation and no capitals."""
        return text + {".": "。", "?": "？"}.get(end, end)

    def exists(self, frame: f.Exists) -> str:
        return self.sentence("图中有" + _listing([_quantified(i) for i in frame.items]))

    def absent(self, frame: f.Absent) -> str:
        return self.sentence("图中没有" + _modified(frame.np))

    def total(self, frame: f.Total) -> str:
        return self.sentence("图中一共有" + _counted(f.NP(), frame.count))

    def relation(self, frame: f.Relation) -> str:
        return self.sentence(
            f"{_compact(frame.landmark)}的{_SIDES[frame.relation]}有{_counted(frame.subject, 1)}"
        )

    def phrase(self, frame: f.Phrase) -> str:
        return self.sentence(_counted(frame.np, 1))

    def colour_question(self, frame: f.ColourQuestion) -> str:
        return self.sentence(f"{_modified(frame.np)}是什么颜色的", "?")

    def shape_question(self, frame: f.ShapeQuestion) -> str:
        return self.sentence(f"{_modified(frame.np)}是什么形状的", "?")

    def count_question(self, frame: f.CountQuestion) -> str:
        return self.sentence(f"图中有几{_NOUNS[frame.np.shape][1]}{_modified(frame.np)}", "?")

    def exists_question(self, frame: f.ExistsQuestion) -> str:
        return self.sentence(f"图中有{_modified(frame.np)}吗", "?")

    def relation_question(self, frame: f.RelationQuestion) -> str:
        return self.sentence(
            f"{_modified(frame.subject)}在{_compact(frame.landmark)}的{_SIDES[frame.relation]}吗",
            "?",
        )

    def both_contain(self, frame: f.BothContain) -> str:
        return self.sentence(f"两张图片中都有{_modified(frame.np)}")

    def one_contains(self, frame: f.OneContains) -> str:
        return self.sentence(f"只有一张图片中有{_modified(frame.np)}")

    def more_on_left(self, frame: f.MoreOnLeft) -> str:
        return self.sentence(f"左图中的{_compact(frame.np)}比右图中的多")

    def box_with(self, frame: f.BoxWith) -> str:
        return self.sentence(f"有一个方框里有{_counted(frame.np, 1)}")

    def exactly_total(self, frame: f.ExactlyTotal) -> str:
        return self.sentence(f"图中恰好有{_counted(frame.np, frame.count)}")

    def every_box(self, frame: f.EveryBox) -> str:
        return self.sentence(f"每个方框里都有{_modified(frame.np)}")

    def add(self, frame: f.Add) -> str:
        return "添加" + _counted(frame.np, 1)

    def remove(self, frame: f.Remove) -> str:
        return "移除" + _modified(frame.np)

    def move(self, frame: f.Move) -> str:
        return f"把{_modified(frame.np)}{_DIRECTIONS[frame.direction]}移动"

    def recolour(self, frame: f.Recolour) -> str:
        return f"把{_modified(frame.np)}涂成{_COLOURS[frame.colour]}"

    def concept_name(self, frame: f.ConceptName) -> str:
        return _modified(frame.np)

    def colour_answer(self, colour: str) -> str:
        return _COLOURS[colour]

    def shape_answer(self, shape: str) -> str:
        return _NOUNS[shape][2]

    def yes_no(self, question: f.Question, value: bool) -> str:
        """Chinese answers echo the verb: 有/没有 for existence, 是/不是 otherwise."""
        if isinstance(question, f.ExistsQuestion):
            return "有" if value else "没有"
        return "是" if value else "不是"
