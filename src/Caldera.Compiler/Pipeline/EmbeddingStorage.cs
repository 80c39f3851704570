namespace Caldera.Compiler.Pipeline;

/// <summary>How a compressed model stores its two vocabulary-sized matrices, the token embedding and the classifier.</summary>
internal enum EmbeddingStorage
{
    /// <summary>
    /// 6-bit levels with a BF16 scale per 32 weights (<see cref="Runtime.Model.TensorType.Int6Blocks"/>, 6.5 bits per weight):
    /// the form the classifier kernel reads in place, so nothing is converted at load, and one embedding row decodes on its own.
    /// docs/quality.md measures what it costs against F16. Rows are padded to groups of 256, so a model whose dim makes that
    /// larger than F16 (below about 104: stories260K's 64) keeps F16.
    /// </summary>
    Int6,

    /// <summary>
    /// 4-bit levels with a BF16 scale per 32 weights (<see cref="Runtime.Model.TensorType.Int4Blocks"/>, 4.5 bits per weight),
    /// rows padded to whole blocks only: one embedding row decodes on its own. A classifier stored so (tied to the embedding, or
    /// untied and not compressed) is read in place a row at a time. docs/quality.md measures what it costs against 6-bit blocks.
    /// </summary>
    Int4,

    /// <summary>Half precision, 16 bits per weight; the runtime makes its 6-bit classifier copy at load.</summary>
    F16,
}
