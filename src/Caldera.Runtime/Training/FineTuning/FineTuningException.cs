namespace Caldera;

/// <summary>Fine-tuning cannot start or cannot go on (too little text, a diverging loss, a mismatched teacher); the message says what to change.</summary>
public sealed class FineTuningException(string message) : Exception(message);
