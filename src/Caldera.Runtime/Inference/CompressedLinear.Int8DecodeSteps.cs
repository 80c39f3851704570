using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Int8Quantizer = Caldera.Runtime.Kernels.Int8Activations;

namespace Caldera.Runtime.Inference;

internal sealed partial class CompressedLinear
{
    /// <summary>
    /// One decode step each of N sequences with int8 activations, every token's arithmetic exactly its
    /// <see cref="Int8Decode"/> step's: u quantised per token as there; Q·u through <see cref="Int8CodedTile"/>, which
    /// decodes each block of Q's rows once for all N tokens and gives every token the one-token kernel's sums bit for
    /// bit; R·u the same way where the tile runs (<see cref="Int8ResidualRows.DotRowsTokens"/>), else per token; L·t on
    /// L's int8 planes (<see cref="LowRankPlanes"/>, shared with the one-token pass) for all tokens at once
    /// (<see cref="Int8LowRank.AddTokens"/>). Built only where <see cref="Int8Decode"/> runs R·u in integers (E8P Q,
    /// 4-bit or no factors). A prompt's batch runs it too: the N tokens are then one sequence's, and each gets what its
    /// decode step would.
    /// </summary>
    private sealed unsafe class Int8DecodeSteps : Pass
    {
        private readonly Int8CodedRows.Path _int8Path;
        private readonly bool _tiled;

        /// <summary>L's int8 planes, shared with the matrix's <see cref="Int8Decode"/>; null when L·t stays float.</summary>
        private readonly LowRankPlanes? _lowRankPlanes;

        /// <summary>The planes, taken by <see cref="LowRankInputsReady"/> (which builds them on the matrix's first step).</summary>
        private byte[]? _planes;

        // The call's int8 u (levels, coordinate-major levels, block scales) and int8 a (levels and scales), token after token.
        private sbyte[] _levels = [], _coordinateMajor = [], _alphaLevels = [];
        private float[] _levelScales = [], _alphaScales = [];

        public Int8DecodeSteps(CompressedLinear linear, int rowGrain, LowRankPlanes? lowRankPlanes) : base(linear, rowGrain)
        {
            _int8Path = Path == KernelPath.Scalar ? Int8CodedRows.Path.Scalar : Int8CodedRows.Best;
            _tiled = Int8CodedTile.Tiled(PaddedColumns, _int8Path);
            _lowRankPlanes = lowRankPlanes;
        }

        /// <summary>
        /// Rows of R per chunk of a batch's factor loop: at least <see cref="BatchFactorRows"/>. A chunk of the batch kernel
        /// first works out every token's block offsets, so four-row chunks (the one-token pass's) spent about as long on
        /// that as on their rows; a row here is already N tokens' work, so fewer chunks still balance.
        /// </summary>
        protected override int FactorGrain => _tiled ? Math.Max(Linear._rankGrain, BatchFactorRows) : Linear._rankGrain;

        private const int BatchFactorRows = 16;

        private int PaddedColumns => Int8Quantizer.PaddedLength(Columns);
        private int Blocks => Int8Quantizer.BlockCount(Columns);
        private int PaddedRank => Int8LowRank.PaddedRank(Rank);
        private Span<sbyte> LevelsOf(int t) => _levels.AsSpan(t * PaddedColumns, PaddedColumns);
        private Span<float> LevelScalesOf(int t) => _levelScales.AsSpan(t * Blocks, Blocks);
        private Span<sbyte> AlphaOf(int t) => _alphaLevels.AsSpan(t * PaddedRank, PaddedRank);

        protected override void Arm(CompressedLinearScratch scratch)
        {
            _levels = scratch.Levels(N * PaddedColumns);
            _levelScales = scratch.LevelScales(N * Blocks);
            if (_tiled) _coordinateMajor = scratch.CoordinateMajorLevels(N * PaddedColumns);
        }

        protected override void LowRankInputsReady(CompressedLinearScratch scratch)
        {
            if (_lowRankPlanes is null) return;
            _planes = _lowRankPlanes.Planes;
            _alphaLevels = scratch.LowRankLevels(N * PaddedRank);
            _alphaScales = scratch.LowRankScales(N);
            for (int t = 0; t < N; t++) _alphaScales[t] = Int8LowRank.Quantize(A.AsSpan(t * Rank, Rank), AlphaOf(t));
        }

        // u as above, then u ≈ s_b·q_i, laid out for the tile
        protected override void Input(int t)
        {
            base.Input(t);
            Int8Quantizer.Quantize(UOf(t), LevelsOf(t), LevelScalesOf(t), Path);
            if (_tiled) Int8CodedTile.LayOut(LevelsOf(t), _coordinateMajor.AsSpan(t * PaddedColumns, PaddedColumns));
        }

        // t_r = s_R·⟨decode(row r of R), q⟩ per token, as Int8Decode; with the register tile each row of R is decoded once for all tokens
        protected override void Factor(int start, int end, int worker)
        {
            int words = E8PResidualLattice.WordCount(Columns);
            var codes = D.RCodes.Span.Slice(start * words, (end - start) * words);
            if (_tiled)
                Int8ResidualRows.DotRowsTokens(codes, end - start, _levels.AsSpan(0, N * PaddedColumns), _coordinateMajor.AsSpan(0, N * PaddedColumns),
                    _levelScales.AsSpan(0, N * Blocks), N, T.AsSpan(start, (N - 1) * Rank + end - start), Rank, _int8Path);
            for (int t = 0; t < N; t++)
            {
                var factors = T.AsSpan(t * Rank + start, end - start);
                if (!_tiled) Linear._kernels.DotRRowsInt8(codes, LevelsOf(t), LevelScalesOf(t), factors);
                TensorPrimitives.Multiply(factors, D.RScale, factors);
            }
        }

        protected override void Quantized(int start, int end, int worker)
        {
            int wordsPerRow = D.QWordsPerRow, tileBytes = Int8CodedTile.ScratchLength(Columns, N);
            Span<float> tileScratch = Linear._pool.Scratch(worker, (tileBytes + sizeof(float) - 1) / sizeof(float));
            Int8CodedTile.DotE8PRows(D.QCodes.Span.Slice(start * wordsPerRow, (end - start) * wordsPerRow), end - start,
                _levels.AsSpan(0, N * PaddedColumns), _tiled ? _coordinateMajor.AsSpan(0, N * PaddedColumns) : [],
                _levelScales.AsSpan(0, N * Blocks), N, new Span<float>(Y + start, (N - 1) * Rows + end - start), Rows,
                MemoryMarshal.AsBytes(tileScratch), _int8Path);
            for (int t = 0; t < N; t++)
            {
                var y = YOf(t, start, end - start);
                TensorPrimitives.Multiply(y, D.QScale, y);
            }
        }

        // z += L·t, in integers where Int8Decode runs it so (each group of L's planes split once for all tokens), else per token, all ranks at once in float
        protected override void LowRank(int start, int end, int worker)
        {
            int length = end - start;
            if (_planes is { } planes)
            {
                Int8LowRank.AddTokens(planes, start / E8PLattice.Dimension, _alphaLevels.AsSpan(0, N * PaddedRank), _alphaScales.AsSpan(0, N), N,
                    new Span<float>(Y + start, (N - 1) * Rows + length), Rows, length, _int8Path);
                return;
            }
            int rowWords = E8PResidualLattice.WordCount(Rows), blockWords = E8PResidualLattice.WordCount(length);
            int first = start / E8PLattice.Dimension * E8PResidualLattice.WordsPerVector;
            var words = D.LTransposedCodes.Span.Slice(first, (Rank - 1) * rowWords + blockWords);
            for (int t = 0; t < N; t++) Linear._kernels.AddLRanks(words, rowWords, A.AsSpan(t * Rank, Rank), YOf(t, start, length));
        }
    }
}
