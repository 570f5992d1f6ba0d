namespace Functional.AD;

/// <summary>Base class of the errors Functional.AD raises when a function cannot be transformed.</summary>
public class AdException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public AdException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The reader met C# it cannot take inside an expression (an unknown method, a statement, a tuple literal...).
/// The message prints the offending subexpression and points to docs/csharp-subset.md.
/// </summary>
public sealed class UnsupportedExpressionException : AdException
{
    /// <summary>The offending subexpression, printed as C#.</summary>
    public string Subexpression { get; }

    /// <summary>Creates the exception.</summary>
    public UnsupportedExpressionException(string message, string subexpression, Exception? inner = null) : base(message, inner) => Subexpression = subexpression;
}

/// <summary>A type used as a function argument or result is not a pytree (see <see cref="Tree"/>).</summary>
public sealed class PytreeException : AdException
{
    /// <summary>Creates the exception.</summary>
    public PytreeException(string message) : base(message) { }
}

/// <summary>A gradient was asked of a function it does not apply to (for example one with a non-scalar output).</summary>
public sealed class GradException : AdException
{
    /// <summary>Creates the exception.</summary>
    public GradException(string message) : base(message) { }
}

/// <summary>A primitive without a derivative rule was differentiated.</summary>
public sealed class NotDifferentiableException : AdException
{
    /// <summary>Creates the exception.</summary>
    public NotDifferentiableException(string message) : base(message) { }
}
