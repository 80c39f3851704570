namespace Caldera.Runtime.Model;

/// <summary>
/// The canonical tensor names of a <see cref="ModelCheckpoint"/>, whatever the source format. They are
/// GGUF's names, because GGUF is the one format that already names every Llama tensor the same way.
/// Matrices are row-major [out, in]: y = W·x.
/// </summary>
internal static class TensorNames
{
    public const string TokenEmbedding = "token_embd.weight";   // [vocab, dim]
    public const string OutputNorm = "output_norm.weight";      // [dim]
    public const string Output = "output.weight";               // [vocab, dim]; absent when tied

    public static string AttentionNorm(int layer) => $"blk.{layer}.attn_norm.weight"; // [dim]
    public static string Query(int layer) => $"blk.{layer}.attn_q.weight";             // [heads·headDim, dim]
    public static string Key(int layer) => $"blk.{layer}.attn_k.weight";               // [kvHeads·headDim, dim]
    public static string Value(int layer) => $"blk.{layer}.attn_v.weight";             // [kvHeads·headDim, dim]
    public static string AttentionOutput(int layer) => $"blk.{layer}.attn_output.weight"; // [dim, heads·headDim]
    public static string FfnNorm(int layer) => $"blk.{layer}.ffn_norm.weight";          // [dim]
    public static string Gate(int layer) => $"blk.{layer}.ffn_gate.weight";             // w1 [hidden, dim]
    public static string Down(int layer) => $"blk.{layer}.ffn_down.weight";             // w2 [dim, hidden]
    public static string Up(int layer) => $"blk.{layer}.ffn_up.weight";                 // w3 [hidden, dim]

    /// <summary>Whether <paramref name="name"/> is one of a decoder block's seven matrices (blk.N.*, not its norms).</summary>
    public static bool IsBlockMatrix(string name) =>
        name.StartsWith("blk.", StringComparison.Ordinal) && !name.EndsWith("_norm.weight", StringComparison.Ordinal);

    /// <summary>Every tensor a model with <paramref name="config"/> must have, with its expected shape.</summary>
    public static IEnumerable<(string Name, long[] Shape)> Expected(LlamaConfig config)
    {
        yield return (TokenEmbedding, [config.VocabSize, config.Dim]);
        for (int l = 0; l < config.LayerCount; l++)
        {
            yield return (AttentionNorm(l), [config.Dim]);
            yield return (Query(l), [config.QDim, config.Dim]);
            yield return (Key(l), [config.KvDim, config.Dim]);
            yield return (Value(l), [config.KvDim, config.Dim]);
            yield return (AttentionOutput(l), [config.Dim, config.QDim]);
            yield return (FfnNorm(l), [config.Dim]);
            yield return (Gate(l), [config.HiddenDim, config.Dim]);
            yield return (Down(l), [config.Dim, config.HiddenDim]);
            yield return (Up(l), [config.HiddenDim, config.Dim]);
        }
        yield return (OutputNorm, [config.Dim]);
        if (!config.TiedClassifier) yield return (Output, [config.VocabSize, config.Dim]);
    }
}
