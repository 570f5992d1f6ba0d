namespace Functional.AD;

/// <summary>
/// An operation was given operands whose shapes (or axes) it cannot accept. The message names the
/// operation as C# call text with the operand shapes, then says what is wrong and what would be accepted:
/// <c>Np.Dot(a: float32[3,2], b: float32[3]): contracted axes differ (2 vs 3); Dot takes a[...,k] with b[k] or b[k,n]</c>.
/// Code that knows more (the enclosing subexpression) adds it with <see cref="WithContext"/>.
/// </summary>
/// <example><code>
/// try { Np.Dot(Np.Ones([3, 2]), Np.Ones([3])); }
/// catch (ShapeException e) { Console.WriteLine(e.Message); }   // both shapes, and what would be accepted
/// </code></example>
public class ShapeException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="operation">The call as C# text with operand shapes, e.g. <c>Np.Dot(a: float32[3,2], b: float32[3])</c>.</param>
    /// <param name="shapes">The abstract values of the operands, in order.</param>
    /// <param name="detail">What is wrong and what would be accepted.</param>
    public ShapeException(string operation, IReadOnlyList<Aval> shapes, string detail)
        : this(operation, shapes, detail, null, null)
    {
    }

    /// <summary>Creates the exception with an enclosing context and a cause.</summary>
    /// <param name="operation">The call as C# text with operand shapes.</param>
    /// <param name="shapes">The abstract values of the operands, in order.</param>
    /// <param name="detail">What is wrong and what would be accepted.</param>
    /// <param name="context">Where it happened (for example the enclosing subexpression printed as C#), or <c>null</c>.</param>
    /// <param name="innerException">The exception this one wraps, or <c>null</c>.</param>
    public ShapeException(string operation, IReadOnlyList<Aval> shapes, string detail, string? context, Exception? innerException)
        : base(context is null ? $"{operation}: {detail}" : $"{context}: {operation}: {detail}", innerException)
    {
        Operation = operation;
        Shapes = shapes;
        Detail = detail;
        Context = context;
    }

    /// <summary>The operation as C# call text with the operand shapes, e.g. <c>Np.Dot(a: float32[3,2], b: float32[3])</c>.</summary>
    public string Operation { get; }

    /// <summary>The abstract values of the operands, in the order the operation takes them.</summary>
    public IReadOnlyList<Aval> Shapes { get; }

    /// <summary>What is wrong and what would be accepted.</summary>
    public string Detail { get; }

    /// <summary>The enclosing context added by <see cref="WithContext"/>, or <c>null</c>.</summary>
    public string? Context { get; }

    /// <summary>
    /// The same error with a context prefixed to the message (for example <c>in Dot(p.W1, x)</c>);
    /// this exception becomes the inner exception.
    /// </summary>
    /// <param name="context">Where the error happened.</param>
    /// <returns>A new exception with the same operation, shapes and detail.</returns>
    public ShapeException WithContext(string context) => new(Operation, Shapes, Detail, context, this);

    /// <summary>Builds <see cref="Operation"/> text: <c>Call("Np.Dot", ("a", a), ("b", b))</c> gives <c>Np.Dot(a: float32[3,2], b: float32[3])</c>.</summary>
    internal static string Call(string name, params (string Name, Aval Aval)[] args) =>
        $"{name}({string.Join(", ", args.Select(a => $"{a.Name}: {a.Aval}"))})";

    internal static ShapeException Of(string name, string detail, params (string Name, Aval Aval)[] args) =>
        new(Call(name, args), args.Select(a => a.Aval).ToArray(), detail);
}
