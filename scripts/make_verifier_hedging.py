# Writes tests/data/verifier_hedging.jsonl (run from the repository root): responses that offer
# several candidates for one answer; each must score 0. "control" (where given) is the same
# response offering only the gold, which must score 1. The JSONL is the test input.
import json
rows = []
def add(kind, gold, response, control=None):
    r = {"kind": kind, "gold": gold, "response": response}
    if control is not None:
        r["control"] = control
    rows.append(r)

for g, w in [("3", "5"), ("5", "3"), ("12", "7"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("-4", "4"),
             ("2\\sqrt{3}", "3\\sqrt{2}")]:
    add("boxes_joined_by_or", g, f"\\boxed{{{w}}} or \\boxed{{{g}}}", f"\\boxed{{{g}}}")
    add("boxes_joined_by_comma", g, f"\\boxed{{{g}}}, \\boxed{{{w}}}", f"\\boxed{{{g}}}")
    add("wrong_box_then_bare_gold", g, f"\\boxed{{{w}}}\n\nActually it might be {g}.", f"\\boxed{{{g}}}")
    add("answer_is_x_or_y", g, f"The answer is {w} or {g}.", f"The answer is {g}.")
for g, w in [("3", "5"), ("7", "2"), ("10", "9"), ("0", "1")]:
    add("one_box_with_list", g, f"\\boxed{{{w}, {g}}}", f"\\boxed{{{g}}}")
    add("box_text_or", g, f"\\boxed{{{w} \\text{{ or }} {g}}}", f"\\boxed{{{g}}}")
    add("latex_envs_or", g, f"It is either ${w}$ or ${g}$", f"It is ${g}$")
    add("final_answer_list", g, f"Final Answer: The final answer is {w}, {g}. I hope it is correct.",
        f"Final Answer: The final answer is {g}. I hope it is correct.")
    add("answer_colon_and", g, f"Answer: {w} and {g}", f"Answer: {g}")
for g in ["1", "5", "7", "10"]:
    add("every_small_integer_commas", g, "The answer is one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10", "The answer is " + g)
    add("every_small_integer_spaces", g, "1 2 3 4 5 6 7 8 9 10")
    add("every_small_integer_latex", g, "$1$, $2$, $3$, $4$, $5$, $6$, $7$, $8$, $9$, $10$")
    add("every_small_integer_boxes", g, " ".join(f"\\boxed{{{k}}}" for k in range(1, 11)))
    add("every_small_integer_plain_or", g, "It could be 1 or 2 or 3 or 4 or 5 or 6 or 7 or 8 or 9 or 10")
add("pm_for_single_root", "3", "\\boxed{\\pm 3}", "\\boxed{3}")
add("pm_for_single_root", "1+\\sqrt{2}", "\\boxed{1 \\pm \\sqrt{2}}", "\\boxed{1+\\sqrt{2}}")
add("set_for_single_value", "4", "\\boxed{\\{2, 4\\}}", "\\boxed{4}")
add("set_for_single_value", "\\frac{1}{2}", "$\\boxed{\\frac{1}{2}}$ and $\\boxed{\\frac{1}{4}}$", "$\\boxed{\\frac{1}{2}}$")
add("equations_for_single_value", "3", "\\boxed{x = 3 \\text{ or } x = 5}", "\\boxed{x = 3}")
add("equations_for_single_value", "-2", "The solutions are $x=-2$ and $x=2$.", "The solution is $x=-2$.")
add("tuple_alternatives", "(1,2)", "\\boxed{(1,2)} or \\boxed{(2,1)}", "\\boxed{(1,2)}")
add("interval_alternatives", "[0,1)", "\\boxed{[0,1)} or \\boxed{[0,1]}", "\\boxed{[0,1)}")
add("choice_letters", "\\text{(C)}", "\\boxed{A, B, C, D}", "\\boxed{C}")
add("choice_letters", "\\text{(B)}", "\\boxed{B} or \\boxed{D}", "\\boxed{B}")
with open("tests/data/verifier_hedging.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows), sum("control" in r for r in rows))
