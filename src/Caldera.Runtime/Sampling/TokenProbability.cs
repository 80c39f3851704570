namespace Caldera.Runtime.Sampling;

/// <summary>
/// A candidate token and its probability packed into one 64-bit key whose ascending order is most likely first, ties
/// broken by the lower id (a total order, so sampling is deterministic): the probability's bits inverted above the id.
/// A probability is never negative, so its IEEE bits rise with it. Candidates sort as plain integers, which
/// <see cref="MemoryExtensions.Sort{T}(Span{T})"/> does without a comparer call per comparison.
/// </summary>
internal static class TokenProbability
{
    public static ulong Key(int token, float probability) =>
        // + 0f turns −0 into +0, whose bits order below every positive probability's.
        ((ulong)~BitConverter.SingleToUInt32Bits(probability + 0f) << 32) | (uint)token;

    public static int Token(ulong key) => (int)(uint)key;

    public static float Probability(ulong key) => BitConverter.UInt32BitsToSingle(~(uint)(key >> 32));
}
