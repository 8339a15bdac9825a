#!/usr/bin/env python3
"""A popo reward command: format and length of a response, as one reward.

Reads one JSON request per line on stdin ({"id", "prompt", "response", "answer", "metadata"})
and writes one JSON reply per line on stdout ({"id", "reward", "metrics"}); see README.md here.
The reward is 0 unless the response ends in exactly one \\boxed{...} (popo's built-in `format`
rule: only blanks, an optional closing $, $$, \\] or \\), then an optional '.', after the box);
a boxed response scores 1.0 up to --max-chars characters, then falls linearly to 0 at
--zero-chars (default twice --max-chars). Metrics: chars (the response length in characters)
and boxed (0 or 1). Standard library only; it does not look at the answer.

    python3 examples/rewards/length_format_reward.py --max-chars 2000
"""
import argparse
import json
import sys


def brace_end(text, at):
    """Returns the index of the '}' closing the '{' at text[at], or -1 (\\{ and \\} are literal)."""
    depth = 0
    i = at
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def ends_in_one_box(text):
    """Returns True when text holds one \\boxed{...} followed only by the allowed closers."""
    starts = []
    p = text.find("\\boxed")
    while p >= 0:
        after = p + len("\\boxed")
        if not (after < len(text) and text[after].isascii() and text[after].isalpha()):
            starts.append(after)  # "\boxedx" is another command
        p = text.find("\\boxed", after)
    if len(starts) != 1:
        return False
    i = starts[0]
    while i < len(text) and text[i] in " \t\n\v\f\r":
        i += 1
    if i >= len(text) or text[i] != "{":
        return False
    end = brace_end(text, i)
    if end < 0:
        return False
    tail = text[end + 1:].strip(" \t\n\v\f\r")
    for closer in ("$$", "$", "\\]", "\\)"):
        if tail.startswith(closer):
            tail = tail[len(closer):].lstrip(" \t\n\v\f\r")
            break
    if tail.startswith("."):
        tail = tail[1:].lstrip(" \t\n\v\f\r")
    return tail == ""


def length_reward(chars, max_chars, zero_chars):
    """Returns 1.0 up to max_chars, then a straight line down to 0.0 at zero_chars."""
    if chars <= max_chars:
        return 1.0
    if zero_chars <= max_chars:
        return 0.0
    return max(0.0, 1.0 - (chars - max_chars) / (zero_chars - max_chars))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-chars", type=int, default=2000,
                        help="longest response that keeps the full reward (default 2000)")
    parser.add_argument("--zero-chars", type=int, default=None,
                        help="length where the reward reaches 0 (default 2 * --max-chars)")
    args = parser.parse_args()
    zero_chars = args.zero_chars if args.zero_chars is not None else 2 * args.max_chars

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        response = request["response"]
        boxed = ends_in_one_box(response)
        chars = len(response)
        reward = length_reward(chars, args.max_chars, zero_chars) if boxed else 0.0
        reply = {"id": request["id"], "reward": reward,
                 "metrics": {"chars": chars, "boxed": int(boxed)}}
        # stdout carries replies only; logging goes to stderr (print(..., file=sys.stderr)),
        # which popo passes through to the user.
        sys.stdout.write(json.dumps(reply) + "\n")
        # Flush every line: on a pipe Python's stdout is block-buffered (8 KiB), so without it
        # the replies of a small batch sit in this process's buffer while popo waits for them,
        # until popo's timeout stops the run.
        sys.stdout.flush()


if __name__ == "__main__":
    main()
