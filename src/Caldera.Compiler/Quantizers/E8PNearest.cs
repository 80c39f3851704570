using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// Exact nearest-codeword search in the E8P codebook, vectorised over the 256 patterns.
/// </summary>
/// <remarks>
/// For each shift σ = ±¼: z = x − σ𝟙, a = |z|. For a pattern p the best signs are sᵢ = sign(zᵢ), giving
/// ‖z − s⊙p‖² = ‖z‖² + ‖p‖² − 2Σaᵢpᵢ. If those signs break the parity rule (Σsᵢpᵢ must be even, i.e. the
/// number of negatives ≡ Σp mod 2), an odd number of signs must flip; flipping coordinate i costs 4aᵢpᵢ ≥ 0,
/// so the best is one flip of the smallest aᵢpᵢ. Hence the squared distance of candidate (σ, p) is
///   cost(σ, p) = ((‖p‖² − Σ tᵢ) + [parity wrong]·2·minᵢ tᵢ) + ‖z‖²,   tᵢ = aᵢ·(2pᵢ),
/// where ‖z‖² depends on σ, so it must stay in to compare the two shifts. The nearest codeword is the argmin
/// over the 2 × 256 candidates (index = 256·shift + p, lowest wins ties). Every path evaluates that formula
/// with the same operations in the same order (no FMA), so the Vector512, Vector256 and scalar paths return
/// the same candidate bit for bit. The vector paths use MinNative (one vminps): tᵢ ≥ +0 and never NaN, so
/// it equals the IEEE Min of the scalar path, which costs several instructions per vector.
/// </remarks>
internal static class E8PNearest
{
    private const int Dimension = E8PCodebook.Dimension;
    private const int Patterns = E8PPatterns.Count;

    /// <summary>2pᵢ, coordinate-major: [256·i + p], so a vector load reads one coordinate of 8/16 patterns.</summary>
    private static readonly float[] TwicePatternByCoordinate = BuildTwicePatterns();

    /// <summary>pᵢ, pattern-major: [8·p + i], one vector per pattern.</summary>
    private static readonly float[] PatternRows = E8PCodebook.AbsolutePatterns.ToArray();

    /// <summary>‖p‖².</summary>
    private static readonly float[] SquaredNorm = BuildSquaredNorms();

    /// <summary>2 where the pattern needs a flip given an even / odd count of negative zᵢ, else 0.</summary>
    private static readonly float[] FlipCostWhenEvenNegatives = BuildFlipCost(negativesOdd: false);
    private static readonly float[] FlipCostWhenOddNegatives = BuildFlipCost(negativesOdd: true);

    /// <summary>Nearest codeword of a full 8-vector (finite input) and its code.</summary>
    /// <remarks>One vector alone takes the reference search: the class search pays off only 16 lanes at a time.</remarks>
    public static ushort Quantize(ReadOnlySpan<float> x8, Span<float> q8) => Compose(x8, SearchReference(x8), q8);

    /// <summary>Nearest codewords of x.Length / 8 consecutive full 8-vectors (finite input) and their codes.</summary>
    public static void QuantizeMany(ReadOnlySpan<float> x, Span<float> q, Span<ushort> codes)
    {
        const int Batch = 64;
        Span<int> candidates = stackalloc int[Batch];
        int count = x.Length / Dimension;
        for (int v0 = 0; v0 < count; v0 += Batch)
        {
            int n = Math.Min(Batch, count - v0);
            E8PClassSearch.SearchMany(x.Slice(v0 * Dimension, n * Dimension), candidates[..n]);
            for (int v = 0; v < n; v++)
            {
                int start = (v0 + v) * Dimension;
                codes[v0 + v] = Compose(x.Slice(start, Dimension), candidates[v], q.Slice(start, Dimension));
            }
        }
    }

    /// <summary>
    /// <see cref="QuantizeMany"/> that also writes each vector's <see cref="E8PSearchCertificate"/> to
    /// <paramref name="certificates"/> (<see cref="SearchCertificate.None"/> where the class search deferred to the reference). Every vector takes the 16-lane
    /// class search, a short last batch padded with copies of its first vector.
    /// </summary>
    public static void QuantizeCertified(ReadOnlySpan<float> x, Span<float> q, Span<ushort> codes, Span<SearchCertificate> certificates)
    {
        const int Lanes = 16;
        Span<float> batch = stackalloc float[Lanes * Dimension];
        Span<int> candidates = stackalloc int[Lanes];
        Span<E8PSearchMargin> margins = stackalloc E8PSearchMargin[Lanes];
        int count = x.Length / Dimension;
        for (int v0 = 0; v0 < count; v0 += Lanes)
        {
            int n = Math.Min(Lanes, count - v0);
            ReadOnlySpan<float> vectors = x.Slice(v0 * Dimension, n * Dimension);
            if (!Vector512.IsHardwareAccelerated) candidates.Fill(-1);
            else if (n == Lanes) E8PClassSearch.TrySearchLanes(vectors, candidates, margins);
            else
            {
                vectors.CopyTo(batch);
                for (int v = n; v < Lanes; v++) vectors[..Dimension].CopyTo(batch.Slice(v * Dimension, Dimension));
                E8PClassSearch.TrySearchLanes(batch, candidates, margins);
            }
            for (int v = 0; v < n; v++)
            {
                int start = (v0 + v) * Dimension;
                ReadOnlySpan<float> x8 = x.Slice(start, Dimension);
                Span<float> q8 = q.Slice(start, Dimension);
                bool certified = candidates[v] >= 0;
                int candidate = certified ? candidates[v] : SearchReference(x8);
                codes[v0 + v] = Compose(x8, candidate, q8);
                certificates[v0 + v] = certified ? E8PSearchCertificate.Of(x8, q8, candidate >> 8, margins[v]) : SearchCertificate.None;
            }
        }
    }

    /// <summary>The brute-force search over all 512 candidates, widest vector path first.</summary>
    internal static int SearchReference(ReadOnlySpan<float> x8) =>
        Vector512.IsHardwareAccelerated ? SearchVector512(x8)
        : Vector256.IsHardwareAccelerated ? SearchVector256(x8)
        : SearchScalar(x8);

    /// <summary>
    /// Nearest codeword on the first x.Length (&lt; 8) coordinates only. Pad coordinates are free: their
    /// error is not counted, and a pad sign can always absorb the parity rule, so no flip cost arises.
    /// Writes the x.Length present entries of the codeword to <paramref name="q"/>.
    /// </summary>
    public static ushort QuantizePartial(ReadOnlySpan<float> x, Span<float> q)
    {
        int present = x.Length;
        Span<float> a = stackalloc float[Dimension];
        int best = -1;
        float bestCost = float.PositiveInfinity;
        for (int shift = 0; shift < 2; shift++)
        {
            float sigma = E8PCodebook.ShiftValue(shift);
            float zz = 0;
            for (int i = 0; i < present; i++)
            {
                a[i] = MathF.Abs(x[i] - sigma);
                zz += a[i] * a[i];
            }
            for (int p = 0; p < Patterns; p++)
            {
                float norm = 0, dot = 0;
                for (int i = 0; i < present; i++)
                {
                    float twiceP = TwicePatternByCoordinate[Patterns * i + p];
                    norm += 0.25f * twiceP * twiceP;
                    dot += a[i] * twiceP;
                }
                float cost = (norm - dot) + zz;
                if (cost < bestCost) { bestCost = cost; best = shift * Patterns + p; }
            }
        }

        int pattern = best & (Patterns - 1), shiftIndex = best >> 8;
        float s = E8PCodebook.ShiftValue(shiftIndex);
        int negative = 0;
        for (int i = 0; i < present; i++)
            if (x[i] - s < 0) negative |= 1 << i;
        if (WrongParity(negative, pattern)) negative |= 1 << (Dimension - 1); // coordinate 7 is a pad
        return E8PCodebook.Compose(pattern, negative, shiftIndex, q);
    }

    /// <summary>Reference path: the cost formula one pattern at a time.</summary>
    internal static int SearchScalar(ReadOnlySpan<float> x8)
    {
        Span<float> a = stackalloc float[Dimension];
        int best = -1;
        float bestCost = float.PositiveInfinity;
        for (int shift = 0; shift < 2; shift++)
        {
            float[] flipCost = PrepareShift(x8, shift, a, out float zz);
            for (int p = 0; p < Patterns; p++)
            {
                float t = a[0] * TwicePatternByCoordinate[p];
                float dot = t, minT = t;
                for (int i = 1; i < Dimension; i++)
                {
                    t = a[i] * TwicePatternByCoordinate[Patterns * i + p];
                    dot += t;
                    minT = MathF.Min(minT, t);
                }
                float cost = ((SquaredNorm[p] - dot) + minT * flipCost[p]) + zz;
                if (cost < bestCost) { bestCost = cost; best = shift * Patterns + p; }
            }
        }
        return best;
    }

    /// <summary>16 patterns per step.</summary>
    internal static int SearchVector512(ReadOnlySpan<float> x8)
    {
        Span<float> a = stackalloc float[Dimension];
        ref float twiceP = ref MemoryMarshal.GetArrayDataReference(TwicePatternByCoordinate);
        ref float norms = ref MemoryMarshal.GetArrayDataReference(SquaredNorm);
        var bestCost = Vector512.Create(float.PositiveInfinity);
        var bestIndex = Vector512.Create(-1);
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (int shift = 0; shift < 2; shift++)
        {
            ref float flip = ref MemoryMarshal.GetArrayDataReference(PrepareShift(x8, shift, a, out float zz));
            var squaredZ = Vector512.Create(zz);
            Vector512<float> a0 = Vector512.Create(a[0]), a1 = Vector512.Create(a[1]), a2 = Vector512.Create(a[2]),
                a3 = Vector512.Create(a[3]), a4 = Vector512.Create(a[4]), a5 = Vector512.Create(a[5]),
                a6 = Vector512.Create(a[6]), a7 = Vector512.Create(a[7]);
            for (int p = 0; p < Patterns; p += Vector512<float>.Count)
            {
                nuint o = (nuint)p;
                Vector512<float> t = a0 * Vector512.LoadUnsafe(ref twiceP, o);
                Vector512<float> dot = t, minT = t;
                t = a1 * Vector512.LoadUnsafe(ref twiceP, o + 1 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                t = a2 * Vector512.LoadUnsafe(ref twiceP, o + 2 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                t = a3 * Vector512.LoadUnsafe(ref twiceP, o + 3 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                t = a4 * Vector512.LoadUnsafe(ref twiceP, o + 4 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                t = a5 * Vector512.LoadUnsafe(ref twiceP, o + 5 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                t = a6 * Vector512.LoadUnsafe(ref twiceP, o + 6 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                t = a7 * Vector512.LoadUnsafe(ref twiceP, o + 7 * Patterns); dot += t; minT = Vector512.MinNative(minT, t);
                Vector512<float> cost = ((Vector512.LoadUnsafe(ref norms, o) - dot) + minT * Vector512.LoadUnsafe(ref flip, o)) + squaredZ;
                Vector512<float> better = Vector512.LessThan(cost, bestCost);
                bestCost = Vector512.ConditionalSelect(better, cost, bestCost);
                bestIndex = Vector512.ConditionalSelect(better.AsInt32(), lane + Vector512.Create(shift * Patterns + p), bestIndex);
            }
        }
        Span<float> costs = stackalloc float[Vector512<float>.Count];
        Span<int> indices = stackalloc int[Vector512<float>.Count];
        bestCost.CopyTo(costs);
        bestIndex.CopyTo(indices);
        return ReduceLanes(costs, indices);
    }

    /// <summary>8 patterns per step.</summary>
    internal static int SearchVector256(ReadOnlySpan<float> x8)
    {
        Span<float> a = stackalloc float[Dimension];
        ref float twiceP = ref MemoryMarshal.GetArrayDataReference(TwicePatternByCoordinate);
        ref float norms = ref MemoryMarshal.GetArrayDataReference(SquaredNorm);
        var bestCost = Vector256.Create(float.PositiveInfinity);
        var bestIndex = Vector256.Create(-1);
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        for (int shift = 0; shift < 2; shift++)
        {
            ref float flip = ref MemoryMarshal.GetArrayDataReference(PrepareShift(x8, shift, a, out float zz));
            var squaredZ = Vector256.Create(zz);
            Vector256<float> a0 = Vector256.Create(a[0]), a1 = Vector256.Create(a[1]), a2 = Vector256.Create(a[2]),
                a3 = Vector256.Create(a[3]), a4 = Vector256.Create(a[4]), a5 = Vector256.Create(a[5]),
                a6 = Vector256.Create(a[6]), a7 = Vector256.Create(a[7]);
            for (int p = 0; p < Patterns; p += Vector256<float>.Count)
            {
                nuint o = (nuint)p;
                Vector256<float> t = a0 * Vector256.LoadUnsafe(ref twiceP, o);
                Vector256<float> dot = t, minT = t;
                t = a1 * Vector256.LoadUnsafe(ref twiceP, o + 1 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                t = a2 * Vector256.LoadUnsafe(ref twiceP, o + 2 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                t = a3 * Vector256.LoadUnsafe(ref twiceP, o + 3 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                t = a4 * Vector256.LoadUnsafe(ref twiceP, o + 4 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                t = a5 * Vector256.LoadUnsafe(ref twiceP, o + 5 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                t = a6 * Vector256.LoadUnsafe(ref twiceP, o + 6 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                t = a7 * Vector256.LoadUnsafe(ref twiceP, o + 7 * Patterns); dot += t; minT = Vector256.MinNative(minT, t);
                Vector256<float> cost = ((Vector256.LoadUnsafe(ref norms, o) - dot) + minT * Vector256.LoadUnsafe(ref flip, o)) + squaredZ;
                Vector256<float> better = Vector256.LessThan(cost, bestCost);
                bestCost = Vector256.ConditionalSelect(better, cost, bestCost);
                bestIndex = Vector256.ConditionalSelect(better.AsInt32(), lane + Vector256.Create(shift * Patterns + p), bestIndex);
            }
        }
        Span<float> costs = stackalloc float[Vector256<float>.Count];
        Span<int> indices = stackalloc int[Vector256<float>.Count];
        bestCost.CopyTo(costs);
        bestIndex.CopyTo(indices);
        return ReduceLanes(costs, indices);
    }

    /// <summary>Rebuilds the signs of the winning candidate (with its parity flip) and writes the codeword.</summary>
    /// <remarks>
    /// Runs once per searched vector, after the search: the scalar loop's eight data-dependent branches (the sign of
    /// each zᵢ, the running minimum of tᵢ) mispredicted so often that composing cost more than the 16-lane class search
    /// it follows. The vector path has no branches and returns the same code and codeword bit for bit.
    /// </remarks>
    internal static ushort Compose(ReadOnlySpan<float> x8, int candidate, Span<float> q8) =>
        Vector256.IsHardwareAccelerated ? ComposeVector256(x8, candidate, q8) : ComposeScalar(x8, candidate, q8);

    /// <summary>The reference of <see cref="Compose"/>: coordinate by coordinate.</summary>
    internal static ushort ComposeScalar(ReadOnlySpan<float> x8, int candidate, Span<float> q8)
    {
        int pattern = candidate & (Patterns - 1), shift = candidate >> 8;
        float sigma = E8PCodebook.ShiftValue(shift);
        int negative = 0, cheapest = 0;
        float cheapestT = float.PositiveInfinity;
        for (int i = 0; i < Dimension; i++)
        {
            float z = x8[i] - sigma;
            if (z < 0) negative |= 1 << i;
            float t = MathF.Abs(z) * TwicePatternByCoordinate[Patterns * i + pattern];
            if (t < cheapestT) { cheapestT = t; cheapest = i; }
        }
        if (WrongParity(negative, pattern)) negative ^= 1 << cheapest;
        return E8PCodebook.Compose(pattern, negative, shift, q8[..Dimension]);
    }

    /// <summary><see cref="ComposeScalar"/> on one 8-lane vector: the cheapest coordinate is the lowest lane holding min tᵢ.</summary>
    internal static ushort ComposeVector256(ReadOnlySpan<float> x8, int candidate, Span<float> q8)
    {
        int pattern = candidate & (Patterns - 1), shift = candidate >> 8;
        var sigma = Vector256.Create(E8PCodebook.ShiftValue(shift));
        var p = Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(PatternRows), (nuint)(pattern * Dimension));
        var z = Vector256.Create(x8[..Dimension]) - sigma;
        int negative = (int)Vector256.LessThan(z, Vector256<float>.Zero).ExtractMostSignificantBits();
        var t = Vector256.Abs(z) * (p + p);
        int cheapest = System.Numerics.BitOperations.TrailingZeroCount(Vector256.Equals(t, BroadcastMin(t)).ExtractMostSignificantBits());
        if (WrongParity(negative, pattern)) negative ^= 1 << cheapest;

        // qᵢ = (negative bit i ? −pᵢ : pᵢ) + σ, as E8PLattice.Compose writes it.
        var positive = Vector256.Equals(Vector256.Create(negative) & Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128), Vector256<int>.Zero);
        (Vector256.ConditionalSelect(positive.AsSingle(), p, -p) + sigma).CopyTo(q8);
        return E8PCodebook.Code(pattern, negative, shift);
    }

    /// <summary>The minimum of the 8 lanes in every lane (no NaN: tᵢ costs are ≥ 0 and finite).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> BroadcastMin(Vector256<float> v)
    {
        var m = Vector256.Min(v, Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)));
        m = Vector256.Min(m, Vector256.Shuffle(m, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)));
        return Vector256.Min(m, Vector256.Shuffle(m, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool WrongParity(int negativeMask, int pattern) =>
        ((System.Numerics.BitOperations.PopCount((uint)negativeMask) + (E8PCodebook.IsPatternSumOdd(pattern) ? 1 : 0)) & 1) != 0;

    /// <summary>Fills a = |x − σ|, sets zz = ‖x − σ‖² and returns the flip-cost row for this shift's count of negative zᵢ.</summary>
    private static float[] PrepareShift(ReadOnlySpan<float> x8, int shift, Span<float> a, out float zz)
    {
        float sigma = E8PCodebook.ShiftValue(shift);
        int negatives = 0;
        zz = 0;
        for (int i = 0; i < Dimension; i++)
        {
            float z = x8[i] - sigma;
            a[i] = MathF.Abs(z);
            zz += z * z;
            if (z < 0) negatives++;
        }
        return (negatives & 1) == 0 ? FlipCostWhenEvenNegatives : FlipCostWhenOddNegatives;
    }

    /// <summary>Lowest cost over the lanes; ties to the lowest candidate index, as in the scalar path.</summary>
    private static int ReduceLanes(ReadOnlySpan<float> costs, ReadOnlySpan<int> indices)
    {
        int best = indices[0];
        float bestCost = costs[0];
        for (int l = 1; l < costs.Length; l++)
            if (costs[l] < bestCost || (costs[l] == bestCost && indices[l] < best)) { bestCost = costs[l]; best = indices[l]; }
        return best;
    }

    private static float[] BuildTwicePatterns()
    {
        ReadOnlySpan<float> patterns = E8PCodebook.AbsolutePatterns;
        var table = new float[Dimension * Patterns];
        for (int p = 0; p < Patterns; p++)
            for (int i = 0; i < Dimension; i++)
                table[Patterns * i + p] = 2 * patterns[p * Dimension + i];
        return table;
    }

    private static float[] BuildSquaredNorms()
    {
        ReadOnlySpan<float> patterns = E8PCodebook.AbsolutePatterns;
        var norms = new float[Patterns];
        for (int p = 0; p < Patterns; p++)
            for (int i = 0; i < Dimension; i++)
                norms[p] += patterns[p * Dimension + i] * patterns[p * Dimension + i];
        return norms;
    }

    private static float[] BuildFlipCost(bool negativesOdd)
    {
        var cost = new float[Patterns];
        for (int p = 0; p < Patterns; p++)
            cost[p] = E8PCodebook.IsPatternSumOdd(p) != negativesOdd ? 2f : 0f;
        return cost;
    }
}
