using System.Runtime.InteropServices;
using Caldera.Runtime.Kernels;
using Int8Quantizer = Caldera.Runtime.Kernels.Int8Activations;

namespace Caldera.Runtime.Inference;

internal sealed partial class CompressedLinear
{
    /// <summary>
    /// A batch (prefill) with int8 activations (<see cref="Int8Activations"/>) of a matrix with 16-bit factors, which
    /// has no <see cref="Int8DecodeSteps"/>: every token's u quantised as its decode step quantises it, and Q·u in
    /// integers (<see cref="Int8CodedTile"/>), each row decoded once for all N tokens and every token's sums those of
    /// its decode step. R·u and L·t run in float, as in <see cref="Prefill"/>.
    /// </summary>
    private sealed unsafe class Int8Prefill : Prefill
    {
        private readonly Int8CodedRows.Path _int8Path;

        /// <summary>Whether the integer tile reads u's levels in coordinate-major order too (it does for widths it tiles).</summary>
        private readonly bool _tiled;

        // The call's int8 u: levels (token-major, and coordinate-major when tiled) and block scales.
        private sbyte[] _levels = [], _coordinateMajor = [];
        private float[] _levelScales = [];

        public Int8Prefill(CompressedLinear linear, int rowGrain) : base(linear, rowGrain)
        {
            // The integer Q kernels' path: the scalar reference when this matrix runs scalar kernels.
            _int8Path = Path == KernelPath.Scalar ? Int8CodedRows.Path.Scalar : Int8CodedRows.Best;
            _tiled = Int8CodedTile.Tiled(Int8Quantizer.PaddedLength(Columns), _int8Path);
        }

        private int PaddedColumns => Int8Quantizer.PaddedLength(Columns);
        private Span<sbyte> LevelsOf(int t) => _levels.AsSpan(t * PaddedColumns, PaddedColumns);
        private Span<float> LevelScalesOf(int t) => _levelScales.AsSpan(t * Int8Quantizer.BlockCount(Columns), Int8Quantizer.BlockCount(Columns));

        protected override void Arm(CompressedLinearScratch scratch)
        {
            _levels = scratch.Levels(N * PaddedColumns);
            _levelScales = scratch.LevelScales(N * Int8Quantizer.BlockCount(Columns));
            if (_tiled) _coordinateMajor = scratch.CoordinateMajorLevels(N * PaddedColumns);
        }

        // u as above, then u ≈ s_b·q_i, laid out for the tile
        protected override void Input(int t)
        {
            base.Input(t);
            Int8Quantizer.Quantize(UOf(t), LevelsOf(t), LevelScalesOf(t), Path);
            if (_tiled) Int8CodedTile.LayOut(LevelsOf(t), _coordinateMajor.AsSpan(t * PaddedColumns, PaddedColumns));
        }

        // Q is E8P-coded: int8 activations are chosen only for E8P codes.
        protected override void Quantized(int start, int end, int worker)
        {
            int n = Columns, wordsPerRow = D.QWordsPerRow, tileBytes = Int8CodedTile.ScratchLength(n, N);
            Span<float> tileScratch = Linear._pool.Scratch(worker, (tileBytes + sizeof(float) - 1) / sizeof(float));
            Int8CodedTile.DotE8PRows(D.QCodes.Span.Slice(start * wordsPerRow, (end - start) * wordsPerRow), end - start,
                _levels.AsSpan(0, N * PaddedColumns), _tiled ? _coordinateMajor.AsSpan(0, N * PaddedColumns) : [],
                _levelScales.AsSpan(0, N * Int8Quantizer.BlockCount(n)), N, new Span<float>(Y + start, (N - 1) * Rows + end - start), Rows,
                MemoryMarshal.AsBytes(tileScratch), _int8Path);
            ScaleRows(start, end);
        }
    }
}
