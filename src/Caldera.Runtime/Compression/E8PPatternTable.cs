namespace Caldera.Runtime.Compression;

/// <summary>
/// The 256 absolute-value patterns of the E8P codebook, in our fixed index order (part of the code layout:
/// changing it changes what every stored code means).
/// </summary>
/// <remarks>
/// Y is the half-integer coset of E8: every entry in ℤ+½ and Σy even. A pattern is the vector |y| (positions
/// matter). Indices 0–226 are every pattern with ‖p‖² ≤ 10 (entries ½, 3/2 or 5/2 with n₃ᐟ₂ + 3·n₅ᐟ₂ ≤ 4),
/// ordered by norm, then lexicographically by entry; indices 227–255 are the 29 norm-12 patterns with three
/// entries ½ and five entries 3/2, in the order the algorithm document lists the positions of the ½ entries.
/// Each pattern takes 128 of its 256 sign patterns (Σ sᵢpᵢ even), so the patterns span 2¹⁵ points of Y.
/// </remarks>
internal static class E8PPatternTable
{
    public const int Count = 256;
    public const int NormAtMostTenCount = 227;

    /// <summary>Pattern p, entry i at [8·p + i].</summary>
    public static float[] Build()
    {
        var small = new List<float[]>();
        Span<int> digits = stackalloc int[8];
        for (int code = 0; code < 6561; code++) // 3⁸ choices of {½, 3/2, 5/2} per entry
        {
            int rest = code;
            for (int i = 7; i >= 0; i--) { digits[i] = rest % 3; rest /= 3; }
            var p = new float[8];
            float norm = 0;
            for (int i = 0; i < 8; i++) { p[i] = digits[i] + 0.5f; norm += p[i] * p[i]; }
            if (norm <= 10f) small.Add(p);
        }
        small.Sort(ComparePatterns);
        if (small.Count != NormAtMostTenCount)
            throw new InvalidOperationException($"E8P: expected {NormAtMostTenCount} patterns of norm ≤ 10, built {small.Count}.");

        var table = new float[Count * 8];
        for (int p = 0; p < small.Count; p++) small[p].CopyTo(table, 8 * p);
        int[][] normTwelve = NormTwelveHalfPositions();
        for (int j = 0; j < normTwelve.Length; j++)
        {
            Span<float> p = table.AsSpan(8 * (NormAtMostTenCount + j), 8);
            p.Fill(1.5f);
            foreach (int position in normTwelve[j]) p[position] = 0.5f;
        }
        return table;
    }

    private static int ComparePatterns(float[] a, float[] b)
    {
        float na = 0, nb = 0;
        for (int i = 0; i < 8; i++) { na += a[i] * a[i]; nb += b[i] * b[i]; }
        if (na != nb) return na.CompareTo(nb);
        for (int i = 0; i < 8; i++)
            if (a[i] != b[i]) return a[i].CompareTo(b[i]);
        return 0;
    }

    /// <summary>Positions of the three ½ entries of the 29 norm-12 patterns, in index order.</summary>
    private static int[][] NormTwelveHalfPositions()
    {
        var list = new List<int[]> { new[] { 1, 2, 3 }, new[] { 0, 2, 3 }, new[] { 0, 1, 3 }, new[] { 0, 1, 2 } };
        foreach (int lead in new[] { 3, 2, 1, 0 })
            for (int a = 4; a < 8; a++)
                for (int b = a + 1; b < 8; b++)
                {
                    if (lead == 1 && a == 4 && b == 5) continue; // the one pair the codebook leaves out
                    list.Add(new[] { lead, a, b });
                }
        list.Add(new[] { 0, 1, 4 });
        list.Add(new[] { 2, 3, 7 });
        return list.ToArray();
    }
}
