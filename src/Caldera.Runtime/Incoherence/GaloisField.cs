namespace Caldera.Runtime.Incoherence;

/// <summary>
/// The finite field GF(q), q = pᵏ, just large enough for Paley constructions: elements are the integers
/// 0…q−1 read as base-p digit vectors (coefficients of a polynomial in x of degree &lt; k), multiplied modulo
/// a monic irreducible polynomial of degree k found by trial division.
/// </summary>
internal sealed class GaloisField
{
    private readonly int[] reduction; // f(x) = xᵏ + Σ reduction[d]·xᵈ
    private readonly bool[] isNonzeroSquare;

    private GaloisField(int prime, int degree)
    {
        Prime = prime;
        Degree = degree;
        Order = (int)Math.Pow(prime, degree);
        reduction = degree == 1 ? new[] { 0 } : FindIrreducible(prime, degree);
        isNonzeroSquare = new bool[Order];
        for (int e = 1; e < Order; e++) isNonzeroSquare[Multiply(e, e)] = true;
    }

    public int Prime { get; }
    public int Degree { get; }
    public int Order { get; }

    /// <summary>GF(q) when q is a prime power, else null.</summary>
    public static GaloisField? TryCreate(int q)
    {
        if (q < 2) return null;
        int p = SmallestPrimeFactor(q), k = 0, rest = q;
        while (rest % p == 0) { rest /= p; k++; }
        return rest == 1 ? new GaloisField(p, k) : null;
    }

    public int Subtract(int a, int b)
    {
        int result = 0, weight = 1;
        for (int d = 0; d < Degree; d++, weight *= Prime, a /= Prime, b /= Prime)
            result += ((a % Prime - b % Prime + Prime) % Prime) * weight;
        return result;
    }

    public int Add(int a, int b) => Subtract(a, Subtract(0, b));

    public int Multiply(int a, int b)
    {
        Span<int> product = stackalloc int[2 * Degree];
        product.Clear();
        Span<int> da = stackalloc int[Degree], db = stackalloc int[Degree];
        ToDigits(a, da);
        ToDigits(b, db);
        for (int i = 0; i < Degree; i++)
            for (int j = 0; j < Degree; j++)
                product[i + j] = (product[i + j] + da[i] * db[j]) % Prime;
        // xᵏ ≡ −Σ reduction[d]·xᵈ: fold the high coefficients down, highest first.
        for (int top = 2 * Degree - 2; top >= Degree; top--)
        {
            int c = product[top];
            if (c == 0) continue;
            product[top] = 0;
            for (int d = 0; d < Degree; d++)
                product[top - Degree + d] = ((product[top - Degree + d] - c * reduction[d]) % Prime + Prime) % Prime;
        }
        int result = 0;
        for (int d = Degree - 1; d >= 0; d--) result = result * Prime + product[d];
        return result;
    }

    /// <summary>The quadratic character χ: 0 at 0, +1 on nonzero squares, −1 otherwise.</summary>
    public int Character(int a) => a == 0 ? 0 : isNonzeroSquare[a] ? 1 : -1;

    private void ToDigits(int a, Span<int> digits)
    {
        for (int d = 0; d < Degree; d++, a /= Prime) digits[d] = a % Prime;
    }

    private static int SmallestPrimeFactor(int n)
    {
        for (int f = 2; (long)f * f <= n; f++)
            if (n % f == 0) return f;
        return n;
    }

    /// <summary>The first monic degree-k polynomial (by coefficient order) with no monic factor of degree ≤ k/2.</summary>
    private static int[] FindIrreducible(int p, int k)
    {
        int candidates = (int)Math.Pow(p, k);
        for (int code = 0; code < candidates; code++)
        {
            int[] f = Digits(code, p, k + 1);
            f[k] = 1;
            if (f[0] == 0) continue; // divisible by x
            bool irreducible = true;
            for (int degree = 1; degree <= k / 2 && irreducible; degree++)
            {
                int divisors = (int)Math.Pow(p, degree);
                for (int g = 0; g < divisors && irreducible; g++)
                {
                    int[] divisor = Digits(g, p, degree + 1);
                    divisor[degree] = 1;
                    if (IsZeroRemainder(f, divisor, p)) irreducible = false;
                }
            }
            if (irreducible) return f[..k];
        }
        throw new InvalidOperationException($"no irreducible polynomial of degree {k} over GF({p}) found.");
    }

    private static int[] Digits(int code, int p, int length)
    {
        var digits = new int[length];
        for (int d = 0; d < length && code > 0; d++, code /= p) digits[d] = code % p;
        return digits;
    }

    /// <summary>Whether the monic <paramref name="divisor"/> divides <paramref name="f"/> over GF(p).</summary>
    private static bool IsZeroRemainder(int[] f, int[] divisor, int p)
    {
        var r = (int[])f.Clone();
        int dd = divisor.Length - 1;
        for (int top = r.Length - 1; top >= dd; top--)
        {
            int c = r[top];
            if (c == 0) continue;
            for (int d = 0; d <= dd; d++)
                r[top - dd + d] = ((r[top - dd + d] - c * divisor[d]) % p + p) % p;
        }
        for (int d = 0; d < dd; d++)
            if (r[d] != 0) return false;
        return true;
    }
}
