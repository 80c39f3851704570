namespace Caldera.Common;

/// <summary>
/// The <c>&lt;Name&gt;.model.json</c> model description (docs/build-integration.md, section 2): written by
/// <c>caldera describe</c>, read by the source generator, and mirrored by the runtime's
/// <c>CalderaModelDescription</c>, which the generated class fills in. Every key and spelling is here once; keys are
/// snake_case like the <c>.cald</c> manifest's, and where both files hold the same setting they use the same key.
/// Compiled for netstandard2.0 too (the generator).
/// </summary>
internal static class ModelDescriptionSchema
{
    /// <summary>Changes with any key or spelling, so that a description left in obj/ by an older build is a clear mismatch.</summary>
    public const string Id = "caldera.model-description/2";

    public const string Schema = "schema";
    public const string Name = "name";
    public const string Namespace = "namespace";
    public const string Storage = "storage";
    public const string ResourceName = "resource_name";
    public const string FileName = "file_name";
    public const string FileLength = "file_length";

    /// <summary>The <c>.cald</c> header's XxHash3-64, as 16 lower-case hex digits.</summary>
    public const string Checksum = "checksum";

    public const string Config = "config";
    public const string Matrices = "matrices";

    /// <summary>The values of <see cref="Storage"/>: an embedded resource, or the published executable's trailer.</summary>
    public static class StorageKinds
    {
        public const string Resource = "resource";
        public const string Trailer = "trailer";
    }

    /// <summary>The keys of <see cref="Config"/>, which are the <c>.cald</c> manifest's config keys.</summary>
    public static class ConfigKeys
    {
        public const string Dim = "dim";
        public const string HiddenDim = "hidden_dim";
        public const string Layers = "layers";
        public const string Heads = "heads";
        public const string KvHeads = "kv_heads";
        public const string HeadDim = "head_dim";
        public const string VocabSize = "vocab_size";
        public const string ContextLength = "context_length";
        public const string TiedClassifier = "tied_classifier";
    }

    /// <summary>The keys of each object in <see cref="Matrices"/>, in the architecture's order.</summary>
    public static class MatrixKeys
    {
        public const string Name = "name";
        public const string Rows = "rows";
        public const string Columns = "columns";

        /// <summary>Q's code, spelled as the <c>.cald</c> manifest spells <c>q.kind</c> (<see cref="QKinds"/>).</summary>
        public const string Q = "q";

        public const string QBits = "q_bits";
        public const string Rank = "rank";
        public const string FactorBits = "factor_bits";
    }

    /// <summary>The spellings of Q's code, shared with the <c>.cald</c> manifest's <c>q.kind</c>.</summary>
    public static class QKinds
    {
        public const string E8P = "e8p";
        public const string Uniform = "uniform";
    }
}
