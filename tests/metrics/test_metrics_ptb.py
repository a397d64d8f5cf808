"""The pure-Python English tokenizer gives the COCO toolkit's tokens (Java tokenizer, filter)."""

from __future__ import annotations

import shutil

import pytest
from caption_fixtures import coco_captions, xflickrco_captions

from vislang.metrics.ptb import ptb_tokenize, ptb_tokenize_lines

# probe sentences and the tokens the toolkit gives them (recorded from the Java tokenizer)
PROBES = {
    "A man's hat isn't on the table, it's \"red\" (really) & blue.": (
        "a man 's hat is n't on the table it 's red -lrb- really -rrb- & blue"
    ),
    "The colour of the theatre; U.S. flag and Mr. Smith's dog.": (
        "the colour of the theatre u.s. flag and mr. smith 's dog"
    ),
    "3.5 cats cost $4.50 and 1/2 of 10,000 people at 5:30pm.": (
        "3.5 cats cost $ 4.50 and 1/2 of 10,000 people at 5:30 pm"
    ),
    "cannot gonna wanna gimme lemme 'tis 'twas": "can not gon na wan na gim me lem me 't is 't was",
    "I'm you're we've they'd she'll o'clock rock'n'roll": (
        "i 'm you 're we 've they 'd she 'll o'clock rock 'n' roll"
    ),
    "Café naïve résumé – — … “smart” ‘single’ ½ ¼ ™ © °": (
        "café naïve résumé smart single 1/2 1/4 ™ © °"
    ),
    "A dog. A cat. Plan B. St. Louis, at 5 p.m. No. 5 and fig. 3 and vol. 2": (
        "a dog a cat plan b. st. louis at 5 p.m. no. 5 and fig. 3 and vol 2"
    ),
    "what?! wow!! ok. OK, the US. a t.v. and a tv. Ark. ark. etc.": (
        "what ?! wow !! ok ok the us a t.v. and a tv ark. ark etc."
    ),
    "black/white a*b e-mail [brackets] {braces} y'all ma'am li'l 'cause '80s 80's": (
        "black/white a * b e-mail -lsb- brackets -rsb- -lcb- braces -rcb- y' all ma'am li'l "
        "'cause '80s 80 's"
    ),
    "$5 £5 €5 50% #1 @home AT&T b&w +5 -5 a-b-c -a-": (
        "$ 5 # 5 $ 5 50 % # 1 @home at&t b & w +5 -5 a-b-c a"
    ),
}


@pytest.mark.parametrize("caption", list(PROBES))
def test_probe_sentences_give_the_toolkit_tokens(caption) -> None:
    assert " ".join(ptb_tokenize(caption)) == PROBES[caption]


def test_single_letter_period_depends_on_the_next_line_like_the_toolkit() -> None:
    # the Java tokenizer looks across the line end: "U." before "A ..." ends a sentence
    assert ptb_tokenize_lines(["the Wii U.", "A cat."]) == [["the", "wii", "u"], ["a", "cat"]]
    assert ptb_tokenize_lines(["the Wii U.", "two cats"]) == [["the", "wii", "u."], ["two", "cats"]]


def _toolkit_tokens(captions: list[str]) -> list[str]:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenized = PTBTokenizer().tokenize({k: [{"caption": c}] for k, c in enumerate(captions)})
    return [tokenized[k][0] for k in range(len(captions))]


NO_JAVA = "java is not installed: the toolkit's tokenizer (the reference) cannot run"


@pytest.mark.skipif(shutil.which("java") is None, reason=NO_JAVA)
def test_real_captions_and_probes_tokenised_like_the_java_toolkit(shared_data) -> None:
    pytest.importorskip("pycocoevalcap")
    captions = [c for image in coco_captions(shared_data).values() for c in image]
    captions += xflickrco_captions(shared_data, "en")
    captions += list(PROBES)
    ours = [" ".join(tokens) for tokens in ptb_tokenize_lines(captions)]
    theirs = _toolkit_tokens(captions)
    mismatches = [(c, o, t) for c, o, t in zip(captions, ours, theirs, strict=True) if o != t]
    assert not mismatches, mismatches[:5]
    assert len(captions) == 285 + 2000 + len(PROBES)


@pytest.mark.skipif(shutil.which("java") is None, reason=NO_JAVA)
def test_captions_with_punctuation_added_tokenised_like_the_java_toolkit(shared_data) -> None:
    # real captions with marks added at word boundaries (seeded): quotes, brackets, clitics, ...
    pytest.importorskip("pycocoevalcap")
    import random

    marks = [".", ",", ";", ":", "!", "?", "'", '"', "(", ")", "-", "--", "...", "'s", "&", "/"]
    marks += ["%", "$", ":)", "''"]
    captions = xflickrco_captions(shared_data, "en")
    rng = random.Random(0)
    noisy = []
    for caption in rng.sample(captions, 600):
        words = caption.split()
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(words))
            mark = rng.choice(marks)
            where = rng.random()
            if where < 0.3:
                words[k] = mark + words[k]
            elif where < 0.8:
                words[k] = words[k] + mark
            else:
                words[k] = f"{words[k]} {mark}"
        text = " ".join(words)
        noisy.append(text.title() if rng.random() < 0.2 else text)
    ours = [" ".join(tokens) for tokens in ptb_tokenize_lines(noisy)]
    theirs = _toolkit_tokens(noisy)
    mismatches = [(c, o, t) for c, o, t in zip(noisy, ours, theirs, strict=True) if o != t]
    assert not mismatches, mismatches[:5]
