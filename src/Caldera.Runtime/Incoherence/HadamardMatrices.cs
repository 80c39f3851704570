using System.Collections.Concurrent;

namespace Caldera.Runtime.Incoherence;

/// <summary>
/// Hadamard matrices H_K (entries ±1, H·Hᵀ = K·I) of the orders our constructions reach: 1, 2, Paley I
/// (K = q+1, q ≡ 3 mod 4), Paley II (K = 2(q+1), q ≡ 1 mod 4), q any prime power, and Kronecker products of
/// those. That covers 12, 20, 28, 36, 44, 52, 60, 108, 124, 140, 344, …, but not every order QuIP# tabulates:
/// 116, 156 and 172 need Williamson-type constructions we do not implement, so such dimensions take the
/// seeded orthogonal fallback of <see cref="HadamardTransform"/>.
/// </summary>
internal static class HadamardMatrices
{
    private static readonly ConcurrentDictionary<int, bool> Availability = new();

    /// <summary>Whether <see cref="TryCreate"/> can build a Hadamard matrix of this order.</summary>
    public static bool IsAvailable(int order) => Availability.GetOrAdd(order, static k => Plan(k) != Construction.None);

    /// <summary>H_K, row-major, or null when no construction here reaches order <paramref name="order"/>.</summary>
    public static sbyte[]? TryCreate(int order)
    {
        switch (Plan(order))
        {
            case Construction.Trivial: return order == 1 ? new sbyte[] { 1 } : new sbyte[] { 1, 1, 1, -1 };
            case Construction.PaleyOne: return PaleyConstruction.TryTypeOne(order);
            case Construction.PaleyTwo: return PaleyConstruction.TryTypeTwo(order);
            case Construction.Product:
                int a = SmallestProductFactor(order);
                return Kronecker(TryCreate(a)!, a, TryCreate(order / a)!, order / a);
            default: return null;
        }
    }

    private enum Construction { None, Trivial, PaleyOne, PaleyTwo, Product }

    private static Construction Plan(int order)
    {
        if (order is 1 or 2) return Construction.Trivial;
        if (order < 1 || order % 4 != 0) return Construction.None;
        if (IsPrimePower(order - 1) && (order - 1) % 4 == 3) return Construction.PaleyOne;
        if (IsPrimePower(order / 2 - 1) && (order / 2 - 1) % 4 == 1) return Construction.PaleyTwo;
        return SmallestProductFactor(order) > 0 ? Construction.Product : Construction.None;
    }

    /// <summary>The smallest a ≥ 2 with H_a and H_{order/a} both available, or 0.</summary>
    private static int SmallestProductFactor(int order)
    {
        for (int a = 2; a <= order / 2; a++)
            if (order % a == 0 && IsAvailable(a) && IsAvailable(order / a)) return a;
        return 0;
    }

    private static bool IsPrimePower(int q)
    {
        if (q < 2) return false;
        int p = 2;
        while ((long)p * p <= q && q % p != 0) p++;
        if (q % p != 0) return true; // q itself is prime
        while (q % p == 0) q /= p;
        return q == 1;
    }

    /// <summary>(A ⊗ B)[i·nb + j, k·nb + l] = A[i, k]·B[j, l].</summary>
    internal static sbyte[] Kronecker(sbyte[] a, int na, sbyte[] b, int nb)
    {
        int n = na * nb;
        var result = new sbyte[n * n];
        for (int i = 0; i < na; i++)
            for (int k = 0; k < na; k++)
                for (int j = 0; j < nb; j++)
                    for (int l = 0; l < nb; l++)
                        result[(i * nb + j) * n + k * nb + l] = (sbyte)(a[i * na + k] * b[j * nb + l]);
        return result;
    }
}
