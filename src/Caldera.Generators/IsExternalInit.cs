namespace System.Runtime.CompilerServices;

/// <summary>Lets records and init-only setters compile for netstandard2.0, which lacks this marker type.</summary>
internal static class IsExternalInit
{
}
