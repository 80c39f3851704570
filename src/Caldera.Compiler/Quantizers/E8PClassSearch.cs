using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// Fast exact E8P nearest-codeword search by permutation classes: per shift one sort of |z| and 36 candidate
/// costs instead of 256 dot products, certified against <see cref="E8PNearest"/>'s brute-force formula.
/// </summary>
/// <remarks>
/// <para><b>Classes.</b> Patterns 0–226 are every permutation of seven multisets (the norm-≤10 patterns form
/// complete classes): {½⁸}, {3/2ᵏ,½⁸⁻ᵏ} for k = 1…4, {5/2,½⁷}, {5/2,3/2,½⁶}. For z = x − σ𝟙, a = |z| and signs
/// sign(z), the cost of pattern p is ‖z‖² + ‖p‖² − 2Σaᵢpᵢ, plus 4·minᵢ aᵢpᵢ when Σ sign(zᵢ)·pᵢ is odd (one sign
/// must flip). That parity is the same for every permutation of a class: 2pᵢ is odd, so Σ sᵢpᵢ ≡ Σ pᵢ + #negatives
/// (mod 2), which depends only on the multiset and the signs.</para>
/// <para><b>Best permutation.</b> Sort a descending, s₁ ≥ … ≥ s₈, and give the largest p to the largest a
/// (rearrangement inequality). By Abel summation Σ s_k·p_π(k) = Σ_k (s_k − s_{k+1})·P_π(k) with P_π(k) the sum
/// of the first k assigned values and s₉ = 0; the sorted assignment maximises every prefix sum P(k), so it is
/// optimal, and any assignment that is a different pattern has some P_π(k) ≤ P(k) − 1 (the values differ by
/// integers) at a boundary k where the sorted values change, so it loses at least s_k − s_{k+1} in Σap, i.e.
/// 2(s_k − s_{k+1}) in cost. With a flip, the cost is ‖p‖² − 2(Σaᵢpᵢ − 2a_j p_j) for the flipped j; the sorted
/// assignment gives p_min to s₈ and s₈·p_min ≤ aᵢpᵢ for every i, so flipping s₈ is best and the sorted
/// assignment still maximises Σaᵢpᵢ − 2·min aᵢpᵢ (exchange argument: any other assignment lowers Σaᵢpᵢ by the
/// same bound and cannot lower the flip term below s₈·p_min). So each class costs O(1) after the sort:
///   cost = ‖p‖² − S − 2E + [wrong parity]·2s₈ + ‖z‖²,  S = Σs, E ∈ {0, P₁, P₂, P₃, P₄, 2P₁, P₁+P₂},  P_k = s₁+…+s_k.
/// The 29 norm-12 patterns (three ½, five 3/2, fixed positions) are costed directly:
/// 12 − 3S + 2h + [Σ sᵢpᵢ odd]·2·min(min over the ½ positions of a, 3s₈), h = the sum of a over the ½ positions.</para>
/// <para><b>Exactness.</b> The float costs here round differently from the reference formula, and a sorted key
/// carries the coordinate index in its 3 low mantissa bits. So the search also tracks the runner-up (the best
/// other candidate, or the winning class's best other permutation, bounded by the gap above) and returns the
/// winner only when it leads by more than <see cref="CertifiedMargin"/>·M, M bounding the magnitudes in the
/// costs; otherwise (near-ties, equal coordinates, a = 0) it defers to the reference search. Its answer is
/// therefore always the reference's own (including the reference's tie-breaking), which the tests check.</para>
/// </remarks>
internal static class E8PClassSearch
{
    private const int Dimension = E8PCodebook.Dimension;
    private const int Lanes = 16;
    private const int ClassCount = 7;
    private const int SpecialCount = E8PPatterns.Count - E8PPatterns.NormAtMostTenCount;

    /// <summary>
    /// Relative lead the winner needs: the key perturbation (≤ 7 ulp of each a, 2⁻²⁰ relative) and the rounding
    /// of both cost formulas (about 20 operations of 2⁻²⁴ each) stay below 2.5·2⁻²⁰·M; 2⁻¹⁶ leaves a factor 6.
    /// </summary>
    internal const float CertifiedMargin = 1f / 65536;

    /// <summary>‖p‖² and whether Σp is odd, per class.</summary>
    private static ReadOnlySpan<float> ClassNorm => [2, 4, 6, 8, 10, 8, 10];
    private static ReadOnlySpan<byte> ClassSumOdd => [0, 1, 0, 1, 0, 0, 1];

    /// <summary>Pattern index of the base-3 digit code Σ dᵢ·3ⁱ (dᵢ = 0, 1, 2 for ½, 3/2, 5/2), −1 if none.</summary>
    private static readonly short[] PatternOfDigits = BuildPatternOfDigits();

    /// <summary>The three ½ positions of each norm-12 pattern, in pattern order.</summary>
    private static readonly (int, int, int)[] SpecialHalves = BuildSpecialHalves();

    /// <summary>
    /// Nearest candidate (256·shift + pattern, as <see cref="E8PNearest.SearchScalar"/>) of one 8-vector: the scalar
    /// reference of the lane path, slower than the vectorised brute force on its own.
    /// </summary>
    public static int Search(ReadOnlySpan<float> x8) => TrySearch(x8, out int candidate) ? candidate : E8PNearest.SearchReference(x8);

    /// <summary>The class search alone: false (and no candidate) when the winner's lead is not certified.</summary>
    internal static bool TrySearch(ReadOnlySpan<float> x8, out int candidate)
    {
        Span<int> keys = stackalloc int[2 * Dimension];
        Span<float> a = stackalloc float[Dimension];
        float best = float.PositiveInfinity, second = float.PositiveInfinity, bestRunner = float.PositiveInfinity, magnitude = 24;
        int bestId = 0;
        for (int shift = 0; shift < 2; shift++)
        {
            float sigma = E8PCodebook.ShiftValue(shift);
            float zz = 0;
            int negativesOdd = 0;
            Span<int> k = keys.Slice(shift * Dimension, Dimension);
            for (int i = 0; i < Dimension; i++)
            {
                float z = x8[i] - sigma;
                a[i] = MathF.Abs(z);
                zz += z * z;
                negativesOdd ^= BitConverter.SingleToInt32Bits(z) >>> 31;
                k[i] = BitConverter.SingleToInt32Bits(a[i]) & ~7 | i;
            }
            SortDescending(k);
            float s0 = Value(k[0]), s1 = Value(k[1]), s2 = Value(k[2]), s3 = Value(k[3]), s4 = Value(k[4]), s7 = Value(k[7]);
            float p1 = s0, p2 = p1 + s1, p3 = p2 + s2, p4 = p3 + s3;
            float sum = ((p4 + s4) + (Value(k[5]) + Value(k[6]))) + s7;
            magnitude += 10 * sum + zz;
            float baseCost = zz - sum, flip = s7 + s7;
            float flipEven = negativesOdd != 0 ? flip : 0, flipOdd = negativesOdd != 0 ? 0 : flip;
            float g1 = s0 - s1, g2 = s1 - s2, g3 = s2 - s3, g4 = s3 - s4;
            ReadOnlySpan<float> extra = [0, p1, p2, p3, p4, p1 + p1, p1 + p2];
            ReadOnlySpan<float> gap = [float.PositiveInfinity, g1, g2, g3, g4, g1, MathF.Min(g1, g2)];
            for (int c = 0; c < ClassCount; c++)
            {
                float cost = ((ClassNorm[c] + baseCost) - (extra[c] + extra[c])) + (ClassSumOdd[c] != 0 ? flipOdd : flipEven);
                Track(cost, cost + (gap[c] + gap[c]), Id(shift, c), ref best, ref second, ref bestRunner, ref bestId);
            }

            // Norm 12: Σp = 9 is odd, so the flip is due when the count of negatives is even.
            float special = (12 + zz) - 3 * sum, threeMin = 3 * s7;
            for (int j = 0; j < SpecialCount; j++)
            {
                var (h0, h1, h2) = SpecialHalves[j];
                float h = (a[h0] + a[h1]) + a[h2];
                float minT = MathF.Min(MathF.Min(MathF.Min(a[h0], a[h1]), a[h2]), threeMin);
                float cost = (special + (h + h)) + (negativesOdd != 0 ? 0 : minT + minT);
                Track(cost, float.PositiveInfinity, Id(shift, ClassCount + j), ref best, ref second, ref bestRunner, ref bestId);
            }
        }
        // NaN or ∞ anywhere (huge inputs) fails the comparison and defers to the reference.
        bool certified = MathF.Min(second, bestRunner) - best > CertifiedMargin * magnitude;
        candidate = certified ? CandidateOf(bestId, keys.Slice((bestId >> 6) * Dimension, Dimension)) : -1;
        return certified;
    }

    /// <summary>Nearest candidates of <paramref name="candidates"/>.Length consecutive 8-vectors of <paramref name="x"/>.</summary>
    public static void SearchMany(ReadOnlySpan<float> x, Span<int> candidates)
    {
        int v = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; v + Lanes <= candidates.Length; v += Lanes)
            {
                TrySearchLanes(x.Slice(v * Dimension, Lanes * Dimension), candidates.Slice(v, Lanes));
                for (int lane = v; lane < v + Lanes; lane++)
                    if (candidates[lane] < 0) candidates[lane] = E8PNearest.SearchReference(x.Slice(lane * Dimension, Dimension));
            }
        }
        // One vector at a time the scalar class search is no faster than the vectorised reference.
        for (; v < candidates.Length; v++) candidates[v] = E8PNearest.SearchReference(x.Slice(v * Dimension, Dimension));
    }

    /// <summary>
    /// <see cref="TrySearch"/> for 16 vectors at once, one per lane: the same formulas in the same order, with
    /// the sort as a network of lane-wise min/max, so the scalar path is its reference. Uncertified lanes get −1.
    /// With <paramref name="margins"/> (16 entries) each certified lane also reports its winner's lead.
    /// </summary>
    internal static void TrySearchLanes(ReadOnlySpan<float> x, Span<int> candidates, Span<E8PSearchMargin> margins = default)
    {
        Span<Vector512<int>> keys = stackalloc Vector512<int>[2 * Dimension];
        Span<Vector512<float>> a = stackalloc Vector512<float>[Dimension];
        var infinity = Vector512.Create(float.PositiveInfinity);
        Vector512<float> best = infinity, second = infinity, bestRunner = infinity, bestId = Vector512<float>.Zero;
        var magnitude = Vector512.Create(24f);
        var lowBits = Vector512.Create(~7);
        // Coordinate-major copy: row i holds coordinate i of the 16 vectors.
        Span<float> coordinates = stackalloc float[Dimension * Lanes];
        for (int lane = 0; lane < Lanes; lane++)
            for (int i = 0; i < Dimension; i++) coordinates[i * Lanes + lane] = x[lane * Dimension + i];
        for (int shift = 0; shift < 2; shift++)
        {
            var sigma = Vector512.Create(E8PCodebook.ShiftValue(shift));
            var zz = Vector512<float>.Zero;
            var signs = Vector512<int>.Zero;
            Span<Vector512<int>> k = keys.Slice(shift * Dimension, Dimension);
            for (int i = 0; i < Dimension; i++)
            {
                Vector512<float> z = Vector512.Create<float>(coordinates.Slice(i * Lanes, Lanes)) - sigma;
                a[i] = Vector512.Abs(z);
                zz += z * z;
                signs ^= z.AsInt32();
                k[i] = (a[i].AsInt32() & lowBits) | Vector512.Create(i);
            }
            SortDescending(k);
            Vector512<float> s0 = k[0].AsSingle(), s1 = k[1].AsSingle(), s2 = k[2].AsSingle(), s3 = k[3].AsSingle(),
                s4 = k[4].AsSingle(), s7 = k[7].AsSingle();
            Vector512<float> p1 = s0, p2 = p1 + s1, p3 = p2 + s2, p4 = p3 + s3;
            Vector512<float> sum = ((p4 + s4) + (k[5].AsSingle() + k[6].AsSingle())) + s7;
            magnitude += Vector512.Create(10f) * sum + zz;
            Vector512<float> negativesOdd = Vector512.LessThan(signs, Vector512<int>.Zero).AsSingle();
            Vector512<float> baseCost = zz - sum, flip = s7 + s7;
            Vector512<float> flipEven = flip & negativesOdd, flipOdd = Vector512.AndNot(flip, negativesOdd);
            Vector512<float> g1 = s0 - s1, g2 = s1 - s2, g3 = s2 - s3, g4 = s3 - s4;
            for (int c = 0; c < ClassCount; c++)
            {
                var (extra, gap) = c switch
                {
                    0 => (Vector512<float>.Zero, infinity),
                    1 => (p1, g1),
                    2 => (p2, g2),
                    3 => (p3, g3),
                    4 => (p4, g4),
                    5 => (p1 + p1, g1),
                    _ => (p1 + p2, Vector512.MinNative(g1, g2)),
                };
                Vector512<float> cost = ((Vector512.Create(ClassNorm[c]) + baseCost) - (extra + extra)) + (ClassSumOdd[c] != 0 ? flipOdd : flipEven);
                Track(cost, cost + (gap + gap), Id(shift, c), ref best, ref second, ref bestRunner, ref bestId);
            }

            Vector512<float> special = (Vector512.Create(12f) + zz) - Vector512.Create(3f) * sum, threeMin = Vector512.Create(3f) * s7;
            for (int j = 0; j < SpecialCount; j++)
            {
                var (h0, h1, h2) = SpecialHalves[j];
                Vector512<float> h = (a[h0] + a[h1]) + a[h2];
                Vector512<float> minT = Vector512.MinNative(Vector512.MinNative(Vector512.MinNative(a[h0], a[h1]), a[h2]), threeMin);
                Vector512<float> cost = (special + (h + h)) + Vector512.AndNot(minT + minT, negativesOdd);
                Track(cost, infinity, Id(shift, ClassCount + j), ref best, ref second, ref bestRunner, ref bestId);
            }
        }

        Vector512<float> runnerUp = Vector512.MinNative(second, bestRunner);
        Vector512<float> certified = Vector512.GreaterThan(runnerUp - best, Vector512.Create(CertifiedMargin) * magnitude);
        Vector512<int> id = Vector512.ConvertToInt32(bestId), candidate = id & Vector512.Create(63);
        Vector512<int> digits = SortedAssignmentDigits(keys, Vector512.GreaterThanOrEqual(id, Vector512.Create(64)), candidate);
        Span<int> lanes = stackalloc int[4 * Lanes];
        certified.AsInt32().CopyTo(lanes);
        id.CopyTo(lanes[Lanes..]);
        digits.CopyTo(lanes[(2 * Lanes)..]);
        Span<float> lead = stackalloc float[3 * Lanes];
        if (!margins.IsEmpty)
        {
            best.CopyTo(lead);
            runnerUp.CopyTo(lead[Lanes..]);
            magnitude.CopyTo(lead[(2 * Lanes)..]);
        }
        for (int lane = 0; lane < Lanes; lane++)
        {
            if (lanes[lane] == 0)
            {
                candidates[lane] = -1;
                continue;
            }
            candidates[lane] = CandidateOf(lanes[Lanes + lane], lanes[2 * Lanes + lane]);
            if (!margins.IsEmpty) margins[lane] = new E8PSearchMargin(lead[lane], lead[Lanes + lane], lead[2 * Lanes + lane]);
        }
    }

    /// <summary>
    /// Per lane, the base-3 digit code of the winning class's sorted assignment (what <see cref="CandidateOf(int, ReadOnlySpan{int})"/>
    /// sums one key at a time): class c puts its 3/2s, or its 5/2 (digit 2), on the largest a, i.e. on the coordinates
    /// the first sorted keys name. Digit weights per class and sorted position k come from <see cref="DigitWeights"/>.
    /// </summary>
    private static Vector512<int> SortedAssignmentDigits(ReadOnlySpan<Vector512<int>> keys, Vector512<int> shiftOne, Vector512<int> candidate)
    {
        var lowBits = Vector512.Create(7);
        // Classes 0–6 index the weights; the norm-12 candidates (≥ 7) take row 7, all zero, and are mapped apart.
        var row = Vector512.Min(candidate, lowBits);
        ReadOnlySpan<int> weights = DigitWeights;
        var powers = Vector512.Create(PowersOf3);
        var digits = Vector512<int>.Zero;
        for (int k = 0; k < 4; k++)
        {
            var key = Vector512.ConditionalSelect(shiftOne, keys[Dimension + k], keys[k]);
            var power = Avx512F.PermuteVar16x32(powers, key & lowBits);
            var weight = Avx512F.PermuteVar16x32(Vector512.Create(weights.Slice(k * Lanes, Lanes)), row);
            digits += power * weight;
        }
        return digits;
    }

    /// <summary>3ⁱ for coordinate i, padded to 16 lanes.</summary>
    private static ReadOnlySpan<int> PowersOf3 => [1, 3, 9, 27, 81, 243, 729, 2187, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>
    /// [16·k + c]: the digit class c (0–6) assigns to its k-th largest a, k = 0…3: classes 1–4 put 3/2 (digit 1) on
    /// the first c, class 5 puts 5/2 (digit 2) on the first, class 6 5/2 and 3/2 on the first two.
    /// </summary>
    private static ReadOnlySpan<int> DigitWeights =>
    [
        0, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// <summary>The reference candidate index of our candidate <paramref name="id"/> given its sorted assignment's digit code.</summary>
    private static int CandidateOf(int id, int digits)
    {
        int shift = id >> 6, candidate = id & 63;
        return candidate >= ClassCount
            ? shift * E8PPatterns.Count + E8PPatterns.NormAtMostTenCount + candidate - ClassCount
            : shift * E8PPatterns.Count + PatternOfDigits[digits];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Track(Vector512<float> cost, Vector512<float> runner, int id,
        ref Vector512<float> best, ref Vector512<float> second, ref Vector512<float> bestRunner, ref Vector512<float> bestId)
    {
        second = Vector512.MinNative(second, Vector512.MaxNative(best, cost));
        Vector512<float> better = Vector512.LessThan(cost, best);
        best = Vector512.ConditionalSelect(better, cost, best);
        bestRunner = Vector512.ConditionalSelect(better, runner, bestRunner);
        bestId = Vector512.ConditionalSelect(better, Vector512.Create((float)id), bestId);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Track(float cost, float runner, int id, ref float best, ref float second, ref float bestRunner, ref int bestId)
    {
        second = MathF.Min(second, MathF.Max(best, cost));
        if (cost < best) { best = cost; bestRunner = runner; bestId = id; }
    }

    /// <summary>Our candidate numbering: 64·shift + class (0–6) or 7 + norm-12 pattern (0–28).</summary>
    private static int Id(int shift, int candidate) => shift * 64 + candidate;

    /// <summary>The reference candidate index (256·shift + pattern) of our candidate, given that shift's sorted keys.</summary>
    private static int CandidateOf(int id, ReadOnlySpan<int> sortedKeys)
    {
        int candidate = id & 63, digits = 0;
        // Base-3 digits of the sorted assignment: class c puts its 3/2s (and 5/2) on the largest a.
        if (candidate <= 4)
            for (int k = 0; k < candidate; k++) digits += PowerOf3(sortedKeys[k] & 7);
        else if (candidate < ClassCount)
            digits = 2 * PowerOf3(sortedKeys[0] & 7) + (candidate == 6 ? PowerOf3(sortedKeys[1] & 7) : 0);
        return CandidateOf(id, digits);
    }

    private static int PowerOf3(int i) => PowersOf3[i];

    /// <summary>A key's value: a with its 3 low mantissa bits replaced by the coordinate index (a ≥ 0, so keys order like a).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Value(int key) => BitConverter.Int32BitsToSingle(key);

    /// <summary>Batcher's odd–even merge network for 8 (19 compare-exchanges), descending.</summary>
    private static ReadOnlySpan<byte> Network =>
    [
        0, 1, 2, 3, 4, 5, 6, 7, 0, 2, 1, 3, 4, 6, 5, 7, 1, 2, 5, 6, 0, 4, 1, 5, 2, 6, 3, 7, 2, 4, 3, 5, 1, 2, 3, 4, 5, 6,
    ];

    private static void SortDescending(Span<Vector512<int>> s)
    {
        ReadOnlySpan<byte> network = Network;
        for (int e = 0; e < network.Length; e += 2)
        {
            Vector512<int> x = s[network[e]], y = s[network[e + 1]];
            s[network[e]] = Vector512.Max(x, y);
            s[network[e + 1]] = Vector512.Min(x, y);
        }
    }

    private static void SortDescending(Span<int> s)
    {
        ReadOnlySpan<byte> network = Network;
        for (int e = 0; e < network.Length; e += 2)
        {
            int hi = Math.Max(s[network[e]], s[network[e + 1]]), lo = Math.Min(s[network[e]], s[network[e + 1]]);
            s[network[e]] = hi;
            s[network[e + 1]] = lo;
        }
    }

    private static short[] BuildPatternOfDigits()
    {
        var table = new short[6561];
        table.AsSpan().Fill(-1);
        ReadOnlySpan<float> patterns = E8PCodebook.AbsolutePatterns;
        for (int p = 0; p < E8PPatterns.NormAtMostTenCount; p++)
        {
            int digits = 0;
            for (int i = Dimension - 1; i >= 0; i--) digits = 3 * digits + (int)patterns[p * Dimension + i];
            table[digits] = (short)p;
        }
        return table;
    }

    private static (int, int, int)[] BuildSpecialHalves()
    {
        ReadOnlySpan<float> patterns = E8PCodebook.AbsolutePatterns;
        var halves = new (int, int, int)[SpecialCount];
        Span<int> found = stackalloc int[3];
        for (int j = 0; j < SpecialCount; j++)
        {
            int count = 0;
            for (int i = 0; i < Dimension; i++)
                if (patterns[(E8PPatterns.NormAtMostTenCount + j) * Dimension + i] == 0.5f) found[count++] = i;
            halves[j] = (found[0], found[1], found[2]);
        }
        return halves;
    }
}
