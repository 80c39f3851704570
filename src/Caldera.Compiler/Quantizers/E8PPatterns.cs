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
}
