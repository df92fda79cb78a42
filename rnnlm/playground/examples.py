"""The app's ready-made prompts and texts to score."""
from __future__ import annotations

DEFAULT_PROMPT = "JULIET:\nO Romeo, Romeo! wherefore art thou"
EXAMPLES = [
    ["ROMEO:\n", 0.8],
    ["First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n", 0.5],
    ["KING RICHARD III:\nNow is the winter of our discontent\n", 1.0],
    ["To be, or not to be, that is the question", 0.2],
    ["Hello 👋, ROMEO! 🌹", 0.8],  # the emoji are skipped, and the page says so
]
# Written for this page in the corpus' style, not a line of the corpus: text no model trained on, long enough
# (~800 characters) that one lucky line does not decide the ranking (tests/test_bundled.py checks the gated
# models win on it, as the Score tab says they should).
HELD_OUT = """MENENIUS:
What say you, good my lord? The citizens are come
To hear the senate speak, and they will have it so.

CORIOLANUS:
Let them be gone, and tell them I am not
The man to beg for what is mine by right.

First Citizen:
We have been patient, sir, and patient men
Grow weary when the bread is kept from them.
What is your answer to the people's cry?

MENENIUS:
Be gentle with them, noble friend; their words
Are louder than their hearts, and they would love you
If you would speak them fair but once today.

CORIOLANUS:
I cannot flatter, nor will I be taught
To bend my knee before a common voice.
Go tell the tribunes I will meet them there,
And let them bring what charges they can find.

BRUTUS:
He shall be answer'd, and the people too:
The gods are just, and Rome will have her due.
"""
SCORE_EXAMPLES = [
    HELD_OUT,
    "ROMEO:\nBut soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.",  # trained on
    "Please remember to submit your expense reports by Friday afternoon.",
    "qzxv jjkq wprt mmmb xxxq",
]
