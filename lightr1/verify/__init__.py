"""Answer verification: the final answer's extraction from a long-CoT response, the fast exact
comparison (`mathexpr`), and math-verify in watched worker processes for the rest."""
