using System.Numerics.Tensors;
using Caldera.Runtime.Compression;
using Int8Quantizer = Caldera.Runtime.Kernels.Int8Activations;

namespace Caldera.Runtime.Inference;

internal sealed partial class CompressedLinear
{
    /// <summary>
    /// A decode step (one token) with int8 activations (<see cref="Int8Activations"/>): u ≈ s_b·q_i, Q·u and 4-bit R·u
    /// in integers, and a 4-bit L of rank ≤ <see cref="Kernels.Int8LowRank.MaxRank"/> expanded into int8 planes on the
    /// first step (<see cref="LowRankPlanes"/>) so that L·t runs in integers too.
    /// </summary>
    private sealed unsafe class Int8Decode : Decode
    {
        /// <summary>L's int8 planes, or null when L·t stays float.</summary>
        public LowRankPlanes? LowRankPlanes { get; }

        /// <summary>The planes, taken by <see cref="LowRankInputsReady"/> (which builds them on the matrix's first step).</summary>
        private byte[]? _planes;

        // The call's int8 u (levels and block scales) and int8 a (levels and scale).
        private sbyte[] _levels = [], _alphaLevels = [];
        private float[] _levelScales = [];
        private float _alphaScale;

        public Int8Decode(CompressedLinear linear, int rowGrain) : base(linear, rowGrain)
        {
            if (D.Rank > 0 && D.FactorBits == 4 && D.Rank <= Kernels.Int8LowRank.MaxRank)
            {
                LowRankPlanes = new LowRankPlanes(D);
            }
        }

        private Span<sbyte> Levels => _levels.AsSpan(0, Int8Quantizer.PaddedLength(Columns));
        private Span<float> LevelScales => _levelScales.AsSpan(0, Int8Quantizer.BlockCount(Columns));
        private Span<sbyte> Alpha => _alphaLevels.AsSpan(0, Kernels.Int8LowRank.PaddedRank(Rank));

        protected override void Arm(CompressedLinearScratch scratch)
        {
            _levels = scratch.Levels(Int8Quantizer.PaddedLength(Columns));
            _levelScales = scratch.LevelScales(Int8Quantizer.BlockCount(Columns));
        }

        protected override void LowRankInputsReady(CompressedLinearScratch scratch)
        {
            if (LowRankPlanes is null) return;
            _planes = LowRankPlanes.Planes;
            _alphaLevels = scratch.LowRankLevels(Kernels.Int8LowRank.PaddedRank(Rank));
            _alphaScale = Kernels.Int8LowRank.Quantize(A.AsSpan(0, Rank), Alpha);
        }

        // u as above, then u ≈ s_b·q_i
        protected override void Input(int t)
        {
            base.Input(t);
            Int8Quantizer.Quantize(UOf(0), Levels, LevelScales, Path);
        }

        protected override void Factor(int start, int end, int worker)
        {
            if (D.FactorBits != 4)
            {
                base.Factor(start, end, worker);
                return;
            }
            int words = E8PResidualLattice.WordCount(Columns);
            var t = T.AsSpan(start, end - start);
            Linear._kernels.DotRRowsInt8(D.RCodes.Span.Slice(start * words, (end - start) * words), Levels, LevelScales, t);
            TensorPrimitives.Multiply(t, D.RScale, t);
        }

        // Q is E8P-coded: int8 activations are chosen only for E8P codes.
        protected override void Quantized(int start, int end, int worker)
        {
            int wordsPerRow = D.QWordsPerRow;
            var y = YOf(0, start, end - start);
            Linear._kernels.DotQRowsInt8(D.QCodes.Span.Slice(start * wordsPerRow, (end - start) * wordsPerRow), Levels, LevelScales, y);
            TensorPrimitives.Multiply(y, D.QScale, y);
        }

        protected override void LowRank(int start, int end, int worker)
        {
            if (_planes is { } planes)
                Kernels.Int8LowRank.Add(planes, start / E8PLattice.Dimension, Alpha, _alphaScale, YOf(0, start, end - start));
            else base.LowRank(start, end, worker);
        }
    }
}
