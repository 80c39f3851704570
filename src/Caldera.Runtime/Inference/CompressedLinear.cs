using Caldera.CompilerServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A weight matrix W (m×n) computed from its CALDERA codes, never materialised:
///   u = U_nᵀ(SU ⊙ x),   z = Q·u + L·(R·u),   y = g·SV ⊙ (V_m·z)
///   Q: m×n, 2-bit E8P or uniform words;  L: m×k, R: k×n, 4-bit residual-lattice words or halves.
/// Four passes on the <see cref="WorkerPool"/>: the input transform per token, t = R·u over the k rows of R,
/// z over blocks of 8 output rows (Q rows, then L·t), and the output transform per token.
/// </summary>
/// <remarks>
/// How the passes run is chosen once, at construction: a decode step (one token) and a batch (prefill) each run one
/// of two strategies, float or int8 activations (<see cref="Int8Activations"/>), and a call only picks the decode or
/// the batch one by its token count.
/// Decode runs fused decode-and-dot kernels (<see cref="CodedRows"/>, through <see cref="ICompressedRowKernels"/>)
/// over the code words, decoding each word in registers; L·t runs over all ranks at once per block of output rows
/// (<see cref="ICompressedRowKernels.AddLRanks"/>), z held in registers. Prefill (n tokens) decodes each block of rows of Q once and
/// applies it to all n tokens. Under int8 activations it runs the pass of a batch of decode steps
/// (<see cref="Int8DecodeSteps"/>: <see cref="Int8CodedTile"/>'s integer tile for Q and R, L's int8 planes), so every
/// token gets its decode step's arithmetic; in float (and for 16-bit factors) <see cref="MatMul"/>'s float tile, each
/// row of R and each 8-row block of Lᵀ decoded once into a worker buffer and applied to all n tokens. Lᵀ is stored by rows of Lᵀ, so L·t is
/// accumulated as Σ_r t_r·(row r of Lᵀ) over each output block; blocks start at multiples of 8 so they cut no code
/// vector. z is built in y itself.
/// </remarks>
internal sealed partial class CompressedLinear : ILinear
{
    /// <summary>Chunks per thread of prefill's rows and of R·u: as in <see cref="DenseLinear"/>, dynamic balancing at negligible hand-out cost.</summary>
    private const int ChunksPerThread = 8;

    /// <summary>
    /// Chunks per thread of a decode step's rows. A decode step streams Q's codes from memory, and fewer, longer
    /// contiguous runs per thread stream faster than eight interleaved ones. On the synthetic 2048-wide model at two
    /// threads: 8.1–8.9 → 6.8–7.6 ms per token (median; eight interleaved runs of `decode-profile int6-classifier`).
    /// Four chunks per thread fell between. Cache-resident matrices show no difference, and neither did R·u's chunks or
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
    private readonly int _rankGrain;
    private readonly Pass _decode, _prefill;

    /// <summary>The pass of a batch of decode steps (<see cref="Int8DecodeSteps"/>), or null where they run one by one through <see cref="_decode"/>.</summary>
    private readonly Pass? _decodeSteps;

    /// <summary>A matrix with its own scratch buffers (see <see cref="CompressedLinearScratch"/> to share them across matrices).</summary>
    public CompressedLinear(CompressedLinearData data, WorkerPool pool)
        : this(data, pool, new CompressedLinearScratch())
    {
    }

    /// <summary>Throws <see cref="ArgumentException"/> when <paramref name="data"/> is inconsistent (see <see cref="CompressedLinearData.FindProblem"/>).</summary>
    public CompressedLinear(CompressedLinearData data, WorkerPool pool, CompressedLinearScratch scratch)
        : this(data, pool, scratch, KernelPaths.Best, null)
    {
    }

    /// <summary>
    /// A matrix whose decode step runs <paramref name="kernels"/> (kernels generated for this matrix's shape), with
    /// int8 activations when <paramref name="int8Activations"/> (see <see cref="Int8Activations"/>).
    /// </summary>
    public CompressedLinear(CompressedLinearData data, WorkerPool pool, CompressedLinearScratch scratch, ICompressedRowKernels kernels, bool int8Activations = false)
        : this(data, pool, scratch, KernelPaths.Best, kernels, int8Activations)
    {
    }

    /// <remarks>
    /// <paramref name="dataChecked"/>: <paramref name="data"/> belongs to a model whose <see cref="CompressedModelCheck"/> has
    /// passed (<see cref="CompressedModelWeights"/>), which checks every matrix as this would; binding a 0.5B model's 56
    /// matrices checks their transforms again otherwise (about 1 ms of the app's first token).
    /// </remarks>
    internal CompressedLinear(CompressedLinearData data, WorkerPool pool, CompressedLinearScratch scratch, KernelPath path,
        ICompressedRowKernels? kernels = null, bool int8Activations = false, bool dataChecked = false)
    {
        if (!dataChecked && data.FindProblem() is { } problem) throw new ArgumentException($"{data.Name}: {problem}", nameof(data));
        _data = data;
        _pool = pool;
        _scratch = scratch;
        _path = path;
        _kernels = kernels ?? GenericRowKernels.On(path);
        _input = data.InputTransform?.ToRandomizedHadamard();
        _output = data.OutputTransform?.ToRandomizedHadamard();
        int chunks = pool.ThreadCount * ChunksPerThread;
        _rankGrain = Math.Max(1, (data.Rank + chunks - 1) / chunks);
        int rowGrain = RowGrain(data.Rows, chunks), decodeRowGrain = RowGrain(data.Rows, pool.ThreadCount * DecodeChunksPerThread);
        // The integer kernels exist for E8P codes only; uniform Q codes run in float either way.
        bool int8 = int8Activations && data.QKind == QCodeKind.E8P;
        _decode = int8 ? new Int8Decode(this, decodeRowGrain) : new Decode(this, decodeRowGrain);
        // Float decode steps have no batched kernel that matches the fused one-token kernels bit for bit: they run one by one.
        if (_decode is Int8Decode decode && (data.Rank == 0 || data.FactorBits == 4))
            _decodeSteps = new Int8DecodeSteps(this, rowGrain, decode.LowRankPlanes);
        // With int8 activations a batch runs the decode steps' pass where there is one: every token of a prompt then gets
        // its decode step's arithmetic, in a batch of any length, and a short prompt reads R's codes and L's int8 planes
        // instead of decoding both to float for a few tokens (benchmarks/README.md, "The first token").
        _prefill = _decodeSteps ?? (int8 ? new Int8Prefill(this, rowGrain) : new Prefill(this, rowGrain));
    }

    /// <summary>Rows per chunk for about <paramref name="chunks"/> chunks, a multiple of 8 so that no chunk cuts a code vector.</summary>
    private static int RowGrain(int rows, int chunks) => Math.Max(E8PLattice.Dimension, ((rows + chunks - 1) / chunks + 7) / 8 * 8);

    /// <summary>
    /// Whether a decode step (one token) of an E8P-coded Q quantises u to int8 (<see cref="Kernels.Int8Activations"/>) and runs
    /// the integer kernels (<see cref="ICompressedRowKernels.DotQRowsInt8"/>, and <see cref="ICompressedRowKernels.DotRRowsInt8"/>
    /// for 4-bit R), which are faster but add u's rounding error to Q·u and R·u; a 4-bit L then runs L·t in integers
    /// too (<see cref="Int8LowRank"/>: t quantised to int8, L expanded on its first decode step into 1 byte per entry, <see cref="LowRankPlanes"/>).
    /// A batch (prefill) gives each token its decode step's result bit for bit (<see cref="Int8DecodeSteps"/>); with
    /// 16-bit factors it runs Q·u in integers the same way and R·u and L·t in float (<see cref="Int8Prefill"/>). Chosen
    /// at construction; false for uniform Q codes.
    /// </summary>
    public bool Int8Activations => _decode is Int8Decode;

    public int InputDim => _data.Columns;
    public int OutputDim => _data.Rows;

    /// <summary>The codes this matrix computes from.</summary>
    public CompressedLinearData Data => _data;

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public unsafe void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_data.Name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        fixed (float* px = x, py = y) (n == 1 ? _decode : _prefill).Run(px, py, n);
    }

    public void PrepareDecode() => (_decode as Int8Decode)?.LowRankPlanes?.Build();

    public unsafe void ApplyDecodeSteps(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        if (n < 1 || x.Length != (long)n * InputDim || y.Length != (long)n * OutputDim)
            throw new ArgumentException($"{_data.Name}: expected x of {n}×{InputDim} and y of {n}×{OutputDim}, got {x.Length} and {y.Length}");
        fixed (float* px = x, py = y)
        {
            if (n > 1 && _decodeSteps is { } steps) steps.Run(px, py, n);
            else
                for (int t = 0; t < n; t++) _decode.Run(px + (long)t * InputDim, py + (long)t * OutputDim, 1);
        }
    }
}
