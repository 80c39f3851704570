using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// The number of E8P absolute-value patterns the nearest-neighbour search loops over. The patterns and their
/// order are defined once, in the runtime (<see cref="E8PLattice.AbsolutePatterns"/>), because stored codes
/// index them.
/// </summary>
internal static class E8PPatterns
{
    public const int Count = E8PLattice.PatternCount;

    /// <summary>Patterns 0..226 have ‖y‖² ≤ 10 (seven complete permutation classes); the rest are the 29 norm-12 ones.</summary>
    public const int NormAtMostTenCount = E8PPatternTable.NormAtMostTenCount;
}
