using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// What does the work behind a <see cref="ModelTokenizer"/>: a Microsoft.ML.Tokenizers tokenizer (<see cref="LibraryTokenizer"/>),
/// or <see cref="SentencePieceBpe"/>, which gives the same ids and text for the SentencePiece models it reads, built in a
/// fraction of the time.
/// </summary>
internal interface IInnerTokenizer
{
    /// <summary>The ids of <paramref name="text"/>, without BOS.</summary>
    IReadOnlyList<int> EncodeToIds(string text);

    string Decode(IEnumerable<int> ids);
}

/// <summary>A Microsoft.ML.Tokenizers <see cref="Tokenizer"/> as an <see cref="IInnerTokenizer"/>.</summary>
internal sealed class LibraryTokenizer(Tokenizer library) : IInnerTokenizer
{
    public Tokenizer Library { get; } = library;

    public IReadOnlyList<int> EncodeToIds(string text) => Library.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids) => Library.Decode(ids) ?? string.Empty;
}
