"""FizzBuzz, compiled: a Python loop with if/elif on traced counters becomes one graph with a
single `while` loop (and nested `cond`s), which Numba compiles to a real loop.

    python examples/fizzbuzz.py

`n` is an ordinary Python int argument, so it is traced (a new n does not retrace) and
`range(1, n + 1)` cannot unroll: autograph turns the `for` into a `while` node and each `if` on
`i % k` into a `cond` node. `verbose` is static: with it, the loop also prints each hit at run
time, from inside the compiled code, with `ef.print`.
"""
import time

import eagerflow as ef


def fizzbuzz(n, verbose=False):
    fizz = buzz = fizzbuzz = 0
    for i in range(1, n + 1):
        if i % 15 == 0:
            fizzbuzz += 1
            if verbose:
                ef.print(i, "FizzBuzz")
        elif i % 3 == 0:
            fizz += 1
            if verbose:
                ef.print(i, "Fizz")
        elif i % 5 == 0:
            buzz += 1
            if verbose:
                ef.print(i, "Buzz")
    return fizz, buzz, fizzbuzz


compiled = ef.function(fizzbuzz, static_argnames=("verbose",))


def main():
    low = compiled.lower(100)
    print("# What autograph converted")
    for line in low.report:
        print(" ", line)
    print("\n# The optimized IR: one graph, one while loop")
    print(low.optimized)
    assert sum(n.op == "while" for n in low.optimized.walk()) == 1

    for n in list(range(0, 61)) + [99, 100, 1000, 12345]:
        got = tuple(int(v) for v in compiled(n))
        assert got == fizzbuzz(n), (n, got, fizzbuzz(n))
    print("\ncompiled == eager for n in 0..60, 99, 100, 1000, 12345")

    print("\n# Printing from inside the compiled loop (n = 15):")
    compiled(15, verbose=True)

    n = 10**6
    t0 = time.perf_counter()
    want = fizzbuzz(n)
    t_py = time.perf_counter() - t0
    compiled(n)
    t0 = time.perf_counter()
    got = tuple(int(v) for v in compiled(n))
    t_ef = time.perf_counter() - t0
    assert got == want
    print(f"\nn = {n:,}: fizz, buzz, fizzbuzz = {got}")
    print(f"eager Python {t_py * 1e3:.1f} ms, compiled {t_ef * 1e3:.2f} ms "
          f"({t_py / t_ef:.0f}x)")


if __name__ == "__main__":
    main()
