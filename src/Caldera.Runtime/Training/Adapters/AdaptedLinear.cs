using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Training.Adapters;

/// <summary>
/// A compressed matrix with its top r ranks replaced by an adapter's trained ones, for inference without merging:
///   y = W_rest·x + g·SV ⊙ V_m·(L_t·(R_t·u)),   u = U_nᵀ(SU ⊙ x)
/// W_rest is the matrix without ranks 0..r−1 on the fast compressed path (<see cref="CompressedLinear"/>, decode kernels
/// and all); the adapter's term costs two transforms and r(m + n) multiply-adds per token, against Q's m·n/8 code words.
/// </summary>
internal sealed class AdaptedLinear : ILinear
{
    private readonly ILinear _rest;
    private readonly RandomizedHadamard? _input, _output;
    private readonly float _scale;
    private readonly AdapterMatrix _adapter;
    private readonly float[] _u, _s, _z;

    public AdaptedLinear(ILinear rest, CompressedLinearData data, AdapterMatrix adapter)
    {
        if (adapter.Rows != data.Rows || adapter.Columns != data.Columns || adapter.Rank > data.Rank)
            throw new ArgumentException($"adapter matrix {adapter.Name} ({adapter.Rows}×{adapter.Columns}, rank {adapter.Rank}) does not fit {data.Name} ({data.Rows}×{data.Columns}, rank {data.Rank})");
        _rest = rest;
        _input = data.InputTransform?.ToRandomizedHadamard();
        _output = data.OutputTransform?.ToRandomizedHadamard();
        _scale = data.GlobalScale;
        _adapter = adapter;
        _u = new float[data.Columns];
        _s = new float[adapter.Rank];
        _z = new float[data.Rows];
    }

    public int InputDim => _rest.InputDim;
    public int OutputDim => _rest.OutputDim;

    public void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyBatch(x, y, 1);

    public void PrepareDecode() => _rest.PrepareDecode();

    public void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        _rest.ApplyBatch(x, y, n);
        int m = OutputDim, columns = InputDim, r = _adapter.Rank;
        for (int t = 0; t < n; t++)
        {
            var xt = x.Slice(t * columns, columns);
            if (_input is { } input) input.Forward(xt, _u);
            else xt.CopyTo(_u);
            for (int j = 0; j < r; j++) _s[j] = System.Numerics.Tensors.TensorPrimitives.Dot(_adapter.R.AsSpan(j * columns, columns), _u);
            Array.Clear(_z);
            for (int j = 0; j < r; j++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_adapter.LTransposed.AsSpan(j * m, m), _s[j], _z, _z);
            _output?.Inverse(_z, _z);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_z, _scale, y.Slice(t * m, m), y.Slice(t * m, m));
        }
    }

    /// <summary><paramref name="data"/> without its ranks 0..<paramref name="rank"/>−1: what stays frozen under an adapter.</summary>
    public static CompressedLinearData WithoutTopRanks(CompressedLinearData data, int rank)
    {
        int k = data.Rank, rest = k - rank, m = data.Rows, n = data.Columns;
        if (rank < 0 || rank > k) throw new ArgumentOutOfRangeException(nameof(rank), $"{data.Name} has rank {k}; cannot remove {rank}");
        if (data.FactorBits == 4)
        {
            int lWords = E8PResidualLattice.WordCount(m), rWords = E8PResidualLattice.WordCount(n);
            return data with
            {
                Rank = rest,
                LTransposedCodes = rest == 0 ? default : data.LTransposedCodes[(rank * lWords)..],
                RCodes = rest == 0 ? default : data.RCodes[(rank * rWords)..],
            };
        }
        var l = data.L.Span;
        var kept = new Half[m * rest];
        for (int i = 0; i < m; i++) l.Slice(i * k + rank, rest).CopyTo(kept.AsSpan(i * rest, rest));
        return data with { Rank = rest, L = rest == 0 ? default : kept, R = rest == 0 ? default : data.R[(rank * n)..] };
    }

    /// <summary>
    /// A binder that binds as <paramref name="bind"/> does, then replaces every matrix the adapter trained with an
    /// <see cref="AdaptedLinear"/> over its remaining ranks, and every norm gain it trained with the adapter's.
    /// </summary>
    public static Func<LinearBinding, TransformerWeights> Binder(Func<LinearBinding, TransformerWeights> bind, CompressedModelContent content, LowRankAdapter adapter)
    {
        var data = content.Matrices.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var matrices = adapter.Matrices.ToDictionary(m => m.Name, StringComparer.Ordinal);
        foreach (var name in matrices.Keys)
            if (!data.ContainsKey(name)) throw new ArgumentException($"the adapter trains {name}, which the model does not compress");
        foreach (var g in adapter.Gains)
            if (g.FindMismatch(content.Config) is { } problem) throw new ArgumentException(problem);
        var gains = adapter.Gains.ToDictionary(g => g.Name, g => g.Values, StringComparer.Ordinal);
        float[] Gain(string name, float[] frozen) => gains.TryGetValue(name, out var g) ? g : frozen;
        return binding =>
        {
            var weights = bind(binding);
            var scratch = new CompressedLinearScratch();
            ILinear Adapt(ILinear linear) =>
                linear is CompressedLinear c && matrices.TryGetValue(c.Data.Name, out var a)
                    ? new AdaptedLinear(binding.Compressed(WithoutTopRanks(data[c.Data.Name], a.Rank), scratch, GenericRowKernels.Best), data[c.Data.Name], a)
                    : linear;
            var layers = weights.Layers.Select((l, i) => l with
            {
                AttentionNorm = Gain(TensorNames.AttentionNorm(i), l.AttentionNorm), FfnNorm = Gain(TensorNames.FfnNorm(i), l.FfnNorm),
                Query = Adapt(l.Query), Key = Adapt(l.Key), Value = Adapt(l.Value), AttentionOutput = Adapt(l.AttentionOutput),
                Gate = Adapt(l.Gate), Up = Adapt(l.Up), Down = Adapt(l.Down),
            }).ToArray();
            return new TransformerWeights(weights.Config, weights.TokenEmbedding, layers, Gain(TensorNames.OutputNorm, weights.OutputNorm), weights.Classifier);
        };
    }
}
