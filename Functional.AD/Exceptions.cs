namespace Functional.AD;

/// <summary>Base class of the errors Functional.AD raises when a function cannot be transformed.</summary>
/// <example><code>
/// try { var g = Ad.Grad(f); }
/// catch (AdException e) { Console.Error.WriteLine(e.Message); }   // any error raised while transforming f
/// </code></example>
public class AdException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public AdException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// The reader met C# it cannot take inside an expression (an unknown method, a statement, a tuple literal...).
/// The message prints the offending subexpression and points to docs/csharp-subset.md.
/// </summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sum(x) * Random.Shared.NextDouble();
/// try { Ad.Grad(f); }
/// catch (UnsupportedExpressionException e) { Console.WriteLine(e.Subexpression); }   // "Random.Shared.NextDouble()"
/// </code></example>
public sealed class UnsupportedExpressionException : AdException
{
    /// <summary>The offending subexpression, printed as C#.</summary>
    public string Subexpression { get; }

    /// <summary>Creates the exception.</summary>
    public UnsupportedExpressionException(string message, string subexpression, Exception? inner = null) : base(message, inner) => Subexpression = subexpression;
}

/// <summary>A type used as a function argument or result is not a pytree (see <see cref="Tree"/>).</summary>
/// <example><code>
/// Expression&lt;Func&lt;List&lt;Tensor&gt;, Tensor&gt;&gt; f = xs =&gt; Np.Sum(xs[0]);
/// try { Ad.Grad(f); }                        // a List is not a pytree: use a record or a ValueTuple
/// catch (PytreeException e) { Console.WriteLine(e.Message); }
/// </code></example>
public sealed class PytreeException : AdException
{
    /// <summary>Creates the exception.</summary>
    public PytreeException(string message) : base(message) { }
}

/// <summary>A gradient was asked of a function it does not apply to (for example one with a non-scalar output).</summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Tanh(x);   // not a scalar
/// try { Ad.Grad(f).Compile()(Np.Ones([3])); }
/// catch (GradException e) { Console.WriteLine(e.Message); }     // names the output shape; use Vjp or Jacrev
/// </code></example>
public sealed class GradException : AdException
{
    /// <summary>Creates the exception.</summary>
    public GradException(string message) : base(message) { }
}

/// <summary>A primitive without a derivative rule was differentiated.</summary>
/// <example><code>
/// try { var g = Ad.Grad(f).Compile(); }
/// catch (NotDifferentiableException e) { Console.WriteLine(e.Message); }   // names the primitive without a derivative rule
/// </code></example>
public sealed class NotDifferentiableException : AdException
{
    /// <summary>Creates the exception.</summary>
    public NotDifferentiableException(string message) : base(message) { }
}
