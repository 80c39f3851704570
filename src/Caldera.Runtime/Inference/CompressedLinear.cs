using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Int8Quantizer = Caldera.Runtime.Kernels.Int8Activations;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A weight matrix W (m×n) computed from its CALDERA codes, never materialised:
///   u = U_nᵀ(SU ⊙ x),   z = Q·u + L·(R·u),   y = g·SV ⊙ (V_m·z)
///   Q: m×n, 2-bit E8P or uniform words;  L: m×k, R: k×n, 4-bit residual-lattice words or halves.
/// Four passes on the <see cref="WorkerPool"/>: the input transform per token, t = R·u over the k rows of R,
/// z over blocks of 8 output rows (Q rows, then L·t), and the output transform per token.
/// </summary>
/// <remarks>
/// Decode (one token) runs fused decode-and-dot kernels (<see cref="CodedRows"/>, through <see cref="ICompressedRowKernels"/>)
/// over the code words, decoding each word in registers; L·t runs over all ranks at once per block of output rows
/// (<see cref="ICompressedRowKernels.AddLRanks"/>), z held in registers. Prefill (n tokens) decodes each block of rows of Q once and
/// applies it to all n tokens, with <see cref="Int8CodedTile"/>'s integer tile under <see cref="Int8Activations"/> and
/// <see cref="MatMul"/>'s float tile otherwise; each row of R, and each 8-row block
/// of Lᵀ, is decoded once into a worker buffer and applied to all n tokens. Lᵀ is stored by rows of Lᵀ, so L·t is
/// accumulated as Σ_r t_r·(row r of Lᵀ) over each output block; blocks start at multiples of 8 so they cut no code
/// vector. z is built in y itself.
/// </remarks>
public sealed class CompressedLinear : ILinear
{
    /// <summary>Chunks per thread of prefill's rows and of R·u: as in <see cref="DenseLinear"/>, dynamic balancing at negligible hand-out cost.</summary>
    private const int ChunksPerThread = 8;

    /// <summary>
    /// Chunks per thread of a decode step's rows. A decode step streams Q's codes from memory, and fewer, longer
    /// contiguous runs per thread stream faster than eight interleaved ones. On the synthetic 2048-wide model at two
    /// threads: 8.1–8.9 → 6.8–7.6 ms per token (median; eight interleaved runs of `decode-profile int6-classifier`).
    /// Four chunks per thread fell between. Cache-resident layers show no difference, and neither did R·u's chunks or
    /// the classifier's. Prefill is bound by arithmetic and keeps <see cref="ChunksPerThread"/> for its balance.
    /// </summary>
    private const int DecodeChunksPerThread = 2;

    /// <summary>Rows of Q decoded together in prefill: <see cref="MatMul"/>'s register tile height.</summary>
    private const int RowBlock = MatMul.RowBlock;

    private readonly CompressedLinearData _data;
    private readonly WorkerPool _pool;
    private readonly CompressedLinearScratch _scratch;
    private readonly RandomizedHadamard? _input, _output;
    private readonly KernelPath _path;
    private readonly ICompressedRowKernels _kernels;
    private readonly int _rowGrain, _decodeRowGrain, _rankGrain;
    private readonly Pass _pass;

    /// <summary>A layer with its own scratch buffers (see <see cref="CompressedLinearScratch"/> to share them across layers).</summary>
    public CompressedLinear(CompressedLinearData data, WorkerPool pool)
        : this(data, pool, new CompressedLinearScratch())
    {
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="data"/> is inconsistent (see <see cref="CompressedLinearData.FindProblem"/>).</summary>
    public CompressedLinear(CompressedLinearData data, WorkerPool pool, CompressedLinearScratch scratch)
        : this(data, pool, scratch, KernelPaths.Best, null)
    {
    }

    /// <summary>A layer whose decode step runs <paramref name="kernels"/> (kernels generated for this matrix's shape).</summary>
    public CompressedLinear(CompressedLinearData data, WorkerPool pool, CompressedLinearScratch scratch, ICompressedRowKernels kernels)
        : this(data, pool, scratch, KernelPaths.Best, kernels)
    {
    }

    internal CompressedLinear(CompressedLinearData data, WorkerPool pool, CompressedLinearScratch scratch, KernelPath path, ICompressedRowKernels? kernels = null)
    {
        if (data.FindProblem() is { } problem) throw new ArgumentException($"{data.Name}: {problem}", nameof(data));
        _data = data;
        _pool = pool;
        _scratch = scratch;
        _path = path;
        _kernels = kernels ?? GenericRowKernels.On(path);
        _input = data.InputTransform?.ToRandomizedHadamard();
        _output = data.OutputTransform?.ToRandomizedHadamard();
        int chunks = pool.ThreadCount * ChunksPerThread;
        _rowGrain = RowGrain(data.Rows, chunks);
        _decodeRowGrain = RowGrain(data.Rows, pool.ThreadCount * DecodeChunksPerThread);
        _rankGrain = Math.Max(1, (data.Rank + chunks - 1) / chunks);
        _pass = new Pass(this);
    }

    /// <summary>Rows per chunk for about <paramref name="chunks"/> chunks, a multiple of 8 so that no chunk cuts a code vector.</summary>
    private static int RowGrain(int rows, int chunks) => Math.Max(E8PLattice.Dimension, ((rows + chunks - 1) / chunks + 7) / 8 * 8);

    /// <summary>
    /// Whether a decode step (one token) of an E8P-coded Q quantises u to int8 (<see cref="Int8Quantizer"/>) and runs
    /// the integer kernels (<see cref="ICompressedRowKernels.DotQRowsInt8"/>, and <see cref="ICompressedRowKernels.DotRRowsInt8"/>
    /// for 4-bit R), which are faster but add u's rounding error to Q·u and R·u; a 4-bit L then runs L·t in integers
    /// too (<see cref="Int8LowRank"/>: t quantised to int8, L expanded once into 1 byte per entry on first use).
    /// A batch (prefill) quantises every token's u the same way and runs Q·u in integers (<see cref="Int8CodedTile"/>:
    /// each token gets its decode step's Q·u bit for bit); a batch's R·u and L·t, 16-bit factors and uniform Q codes
    /// run in float.
    /// </summary>
    public bool Int8Activations { get; set; }

    /// <summary>The integer Q kernels' path: the scalar reference when this layer runs scalar kernels.</summary>
    private Int8CodedRows.Path Int8Path => _path == KernelPath.Scalar ? Int8CodedRows.Path.Scalar : Int8CodedRows.Best;

    /// <summary>L's int8 planes (<see cref="Int8LowRank"/>), built by the first int8 decode step that needs them.</summary>
    private byte[]? _lowRankPlanes;

    public int InputDim => _data.Columns;
    public int OutputDim => _data.Rows;

    /// <summary>The codes this layer computes from.</summary>
    public CompressedLinearData Data => _data;

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public unsafe void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_data.Name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        var pass = _pass;
        pass.U = _scratch.Inputs(n * InputDim);
        pass.T = _scratch.Factors(n * _data.Rank);
        pass.Int8 = Int8Activations && _data.QKind == QCodeKind.E8P;
        if (pass.Int8)
        {
            pass.Levels = _scratch.Levels(n * Int8Quantizer.PaddedLength(InputDim));
            pass.LevelScales = _scratch.LevelScales(n * Int8Quantizer.BlockCount(InputDim));
        }
        pass.Tiled = pass.Int8 && n > 1 && Int8CodedTile.Tiled(Int8Quantizer.PaddedLength(InputDim), Int8Path);
        if (pass.Tiled) pass.CoordinateMajor = _scratch.CoordinateMajorLevels(n * Int8Quantizer.PaddedLength(InputDim));
        pass.Int8LowRank = pass.Int8 && n == 1 && _data.Rank > 0 && _data.FactorBits == 4 && _data.Rank <= Kernels.Int8LowRank.MaxRank;
        if (pass.Int8LowRank && _lowRankPlanes is null)
        {
            var planes = new byte[Kernels.Int8LowRank.PlaneLength(_data.Rows, _data.Rank)];
            Kernels.Int8LowRank.Build(_data.LTransposedCodes.Span, _data.Rows, _data.Rank, planes);
            _lowRankPlanes = planes;
        }
        fixed (float* px = x, py = y)
        {
            pass.X = px;
            pass.Y = py;
            pass.N = n;
            // Work per item, in multiply-adds: a transform of one token, a factor row or a Q row against n tokens.
            pass.Run(Step.Input, n, 1, (long)_data.Columns * 8);
            if (_data.Rank > 0) pass.Run(Step.Factor, _data.Rank, _rankGrain, (long)_data.Columns * n);
            if (_data.Rank > 0 && _data.FactorBits == 4)
            {
                // a = s_L·t of every token (and its int8 levels), once for all chunks of rows
                pass.A = _scratch.LowRankInputs(n * _data.Rank);
                TensorPrimitives.Multiply(pass.T.AsSpan(0, n * _data.Rank), _data.LTransposedScale, pass.A.AsSpan(0, n * _data.Rank));
                if (pass.Int8LowRank)
                {
                    pass.AlphaLevels = _scratch.LowRankLevels(Kernels.Int8LowRank.PaddedRank(_data.Rank));
                    pass.AlphaScale = Kernels.Int8LowRank.Quantize(pass.A.AsSpan(0, _data.Rank), pass.Alpha);
                }
            }
            pass.Run(Step.Rows, _data.Rows, n == 1 ? _decodeRowGrain : _rowGrain, ((long)_data.Columns + _data.Rank) * n);
            pass.Run(Step.Output, n, 1, (long)_data.Rows * 8);
            pass.X = pass.Y = null;
        }
    }

    private enum Step { Input, Factor, Rows, Output }

    /// <summary>The four passes of one call, armed with its arguments.</summary>
    private sealed unsafe class Pass(CompressedLinear layer) : IParallelWork
    {
        private readonly CompressedLinearData _d = layer._data;
        private Step _step;
        public float* X, Y;
        public int N;
        public float[] U = [], T = [], A = [];
        public bool Int8, Int8LowRank, Tiled;
        public sbyte[] Levels = [], CoordinateMajor = [];
        public sbyte[] AlphaLevels = [];
        public float AlphaScale;
        public Span<sbyte> Alpha => AlphaLevels.AsSpan(0, Kernels.Int8LowRank.PaddedRank(_d.Rank));
        public float[] LevelScales = [];

        public void Run(Step step, int count, int grain, long workPerItem)
        {
            _step = step;
            layer._pool.For(count, grain, this, workPerItem);
        }

        public void Execute(int start, int end, int worker)
        {
            switch (_step)
            {
                case Step.Input:
                    for (int t = start; t < end; t++) Input(t);
                    break;
                case Step.Factor:
                    Factor(start, end, worker);
                    break;
                case Step.Rows:
                    Quantized(start, end, worker);
                    if (_d.Rank > 0) LowRank(start, end, worker);
                    break;
                case Step.Output:
                    for (int t = start; t < end; t++) Output(t);
                    break;
            }
        }

        private int Columns => _d.Columns;
        private int Rows => _d.Rows;
        private int Rank => _d.Rank;
        private Span<float> UOf(int t) => U.AsSpan(t * Columns, Columns);
        private Span<float> TOf(int t) => T.AsSpan(t * Rank, Rank);
        private Span<float> YOf(int t, int start, int length) => new(Y + (long)t * Rows + start, length);

        private Span<sbyte> QOf(int t = 0) => Levels.AsSpan(t * Int8Quantizer.PaddedLength(Columns), Int8Quantizer.PaddedLength(Columns));
        private Span<float> ScalesOf(int t = 0) => LevelScales.AsSpan(t * Int8Quantizer.BlockCount(Columns), Int8Quantizer.BlockCount(Columns));

        // u = U_nᵀ(SU ⊙ x), and u ≈ s_b·q_i when the decode step runs in int8
        private void Input(int t)
        {
            var x = new ReadOnlySpan<float>(X + (long)t * Columns, Columns);
            if (layer._input is { } input) input.Forward(x, UOf(t));
            else x.CopyTo(UOf(t));
            if (!Int8) return;
            Int8Quantizer.Quantize(UOf(t), QOf(t), ScalesOf(t), layer._path);
            if (Tiled) Int8CodedTile.LayOut(QOf(t), CoordinateMajor.AsSpan(t * QOf(t).Length, QOf(t).Length));
        }

        // t = R·u   R: k×n, rows [start, end)
        private void Factor(int start, int end, int worker)
        {
            int n = Columns, words = E8PResidualLattice.WordCount(n);
            bool lattice = _d.FactorBits == 4;
            ReadOnlySpan<ushort> codes = _d.RCodes.Span;
            ReadOnlySpan<Half> halves = _d.R.Span;
            if (N == 1 && lattice && Int8)
            {
                var t = T.AsSpan(start, end - start);
                layer._kernels.DotRRowsInt8(codes.Slice(start * words, (end - start) * words), QOf(), ScalesOf(), t);
                TensorPrimitives.Multiply(t, _d.RScale, t);
                return;
            }
            if (N == 1 && lattice)
            {
                Span<float> u = UOf(0);
                for (int r = start; r < end; r++) T[r] = _d.RScale * layer._kernels.DotR(codes.Slice(r * words, words), u);
                return;
            }
            // Prefill: decode the chunk's rows of R once, then one register-tiled product for all tokens.
            int m = end - start;
            Span<float> scratch = layer._pool.Scratch(worker, m * n + MatMul.ScratchLength(n));
            Span<float> block = scratch[..(m * n)];
            for (int r = start; r < end; r++)
            {
                Span<float> row = block.Slice((r - start) * n, n);
                if (lattice)
                {
                    CodedRows.DecodeResidual(codes.Slice(r * words, words), row, layer._path);
                    TensorPrimitives.Multiply(row, _d.RScale, row);
                }
                else TensorPrimitives.ConvertToSingle(halves.Slice(r * n, n), row);
            }
            MatMul.Multiply(MemoryMarshal.AsBytes(block), TensorType.F32, m, U.AsSpan(0, N * n), N,
                T.AsSpan(start, (N - 1) * Rank + m), Rank, scratch[(m * n)..], layer._path);
        }

        // z = Q·u for output rows [start, end)
        private void Quantized(int start, int end, int worker)
        {
            int n = Columns, wordsPerRow = _d.QWordsPerRow;
            bool e8p = _d.QKind == QCodeKind.E8P;
            int maxLevel = e8p ? 0 : _d.MaxUniformCode / 2;
            float scale = _d.QScale;
            ReadOnlySpan<ushort> codes = _d.QCodes.Span;
            if (N == 1)
            {
                Span<float> u = UOf(0);
                if (e8p)
                {
                    var y = YOf(0, start, end - start);
                    var rows = codes.Slice(start * wordsPerRow, (end - start) * wordsPerRow);
                    if (Int8) layer._kernels.DotQRowsInt8(rows, QOf(), ScalesOf(), y);
                    else layer._kernels.DotQRows(rows, u, y);
                    TensorPrimitives.Multiply(y, scale, y);
                    return;
                }
                for (int i = start; i < end; i++) Y[i] = scale * CodedRows.DotUniform(codes.Slice(i * wordsPerRow, wordsPerRow), maxLevel, u, layer._path);
                return;
            }
            if (e8p && Int8)
            {
                // Prefill in integers: each row decoded once for all N tokens, every token's sums those of its decode step.
                int levels = Int8Quantizer.PaddedLength(n), tileBytes = Int8CodedTile.ScratchLength(n, N);
                Span<float> tileScratch = layer._pool.Scratch(worker, (tileBytes + sizeof(float) - 1) / sizeof(float));
                Int8CodedTile.DotE8PRows(codes.Slice(start * wordsPerRow, (end - start) * wordsPerRow), end - start,
                    Levels.AsSpan(0, N * levels), Tiled ? CoordinateMajor.AsSpan(0, N * levels) : [],
                    LevelScales.AsSpan(0, N * Int8Quantizer.BlockCount(n)), N, new Span<float>(Y + start, (N - 1) * Rows + end - start), Rows,
                    MemoryMarshal.AsBytes(tileScratch), layer.Int8Path);
            }
            else PrefillFloat(start, end, worker, codes, e8p, maxLevel);
            for (int t = 0; t < N; t++)
            {
                var y = YOf(t, start, end - start);
                TensorPrimitives.Multiply(y, scale, y);
            }
        }

        // z = Q·u for N tokens in float: RowBlock rows decoded once, then a register-tiled product applies them to all N tokens.
        private void PrefillFloat(int start, int end, int worker, ReadOnlySpan<ushort> codes, bool e8p, int maxLevel)
        {
            int n = Columns, wordsPerRow = _d.QWordsPerRow;
            Span<float> scratch = layer._pool.Scratch(worker, 2 * MatMul.ScratchLength(n));
            Span<float> block = scratch[..MatMul.ScratchLength(n)], tile = scratch[MatMul.ScratchLength(n)..];
            ReadOnlySpan<float> tokens = U.AsSpan(0, N * n);
            for (int i = start; i < end; i += RowBlock)
            {
                int m = Math.Min(RowBlock, end - i);
                for (int k = 0; k < m; k++)
                {
                    var words = codes.Slice((i + k) * wordsPerRow, wordsPerRow);
                    Span<float> row = block.Slice(k * n, n);
                    if (e8p) CodedRows.DecodeE8P(words, row, layer._path);
                    else
                        for (int j = 0; j < n; j++) row[j] = words[j] - maxLevel;
                }
                MatMul.Multiply(MemoryMarshal.AsBytes(block[..(m * n)]), TensorType.F32, m, tokens, N,
                    new Span<float>(Y + i, (N - 1) * Rows + m), Rows, tile, layer._path);
            }
        }

        // z += L·t for output rows [start, end); start is a multiple of 8
        private void LowRank(int start, int end, int worker)
        {
            int length = end - start;
            if (_d.FactorBits == 16)
            {
                ReadOnlySpan<Half> l = _d.L.Span;
                Span<float> row = layer._pool.Scratch(worker, Rank);
                for (int i = start; i < end; i++)
                {
                    TensorPrimitives.ConvertToSingle(l.Slice(i * Rank, Rank), row);
                    for (int t = 0; t < N; t++) Y[(long)t * Rows + i] += TensorPrimitives.Dot(row, TOf(t));
                }
                return;
            }
            // Lᵀ row r holds column r of L; the block's words start at vector start/8.
            ReadOnlySpan<ushort> codes = _d.LTransposedCodes.Span;
            int rowWords = E8PResidualLattice.WordCount(Rows), blockWords = E8PResidualLattice.WordCount(length);
            int first = start / E8PLattice.Dimension * E8PResidualLattice.WordsPerVector;
            if (N == 1 && Int8LowRank)
            {
                Kernels.Int8LowRank.Add(layer._lowRankPlanes, start / E8PLattice.Dimension, Alpha, AlphaScale, YOf(0, start, length));
                return;
            }
            if (N == 1)
            {
                layer._kernels.AddLRanks(codes.Slice(first, (Rank - 1) * rowWords + blockWords), rowWords, A.AsSpan(0, Rank), YOf(0, start, length));
                return;
            }
            // Prefill: decode the slice of every column of L once, then all tokens' updates in registers.
            Span<float> block = layer._pool.Scratch(worker, Rank * length);
            for (int r = 0; r < Rank; r++)
                CodedRows.DecodeResidual(codes.Slice(r * rowWords + first, blockWords), block.Slice(r * length, length), layer._path);
            RankUpdate.Add(block, length, A.AsSpan(0, N * Rank), N, new Span<float>(Y + start, (N - 1) * Rows + length), Rows, layer._path);
        }

        // y = g·SV ⊙ (V_m·z)
        private void Output(int t)
        {
            var y = YOf(t, 0, Rows);
            layer._output?.Inverse(y, y);
            TensorPrimitives.Multiply(y, _d.GlobalScale, y);
        }
    }
}
