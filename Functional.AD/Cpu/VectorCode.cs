using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// What a primitive's <see cref="VectorForm"/> writes with: the vector helpers of one width (<see cref="Vec512Ops"/> or
/// <see cref="Vec256Ops"/>) for one element type. Vector forms are declared once in the primitive table and used by
/// the fused loops and by the batch loop's lanes alike.
/// </summary>
internal sealed class VectorCode
{
    /// <summary>The helper class (<see cref="Vec512Ops"/> or <see cref="Vec256Ops"/>).</summary>
    public Type Ops { get; }
    /// <summary>The element type, <c>double</c> or <c>float</c>.</summary>
    public Type Elem { get; }

    public VectorCode(Type ops, Type elem) { Ops = ops; Elem = elem; }

    /// <summary>The vector code for element type <paramref name="elem"/> at the machine's widest accelerated width.</summary>
    public static VectorCode For(Type elem) => new(Fusion.Width(elem).Ops, elem);

    /// <summary>A call of the helper <paramref name="name"/> (Add, Tanh, Max, ...) on vectors.</summary>
    public Expression Call(string name, params Expression[] x) =>
        Expression.Call((Ops.GetMethod(name) ?? throw new MissingMethodException(Ops.Name, name)).MakeGenericMethod(Elem), x);

    /// <summary>The constant <paramref name="c"/> in every lane.</summary>
    public Expression K(double c) => Call("Splat", Elem == typeof(double) ? Expression.Constant(c) : Expression.Constant((float)c));

    /// <summary>A scalar function applied lane by lane (for primitives without vector arithmetic of their own).</summary>
    public Expression Lanes(Delegate f64, Delegate f32, params Expression[] x)
    {
        var f = Elem == typeof(double) ? f64 : f32;
        return x.Length switch
        {
            1 => Call("Map1", x[0], Expression.Constant(f)),
            2 => Call("Map2", x[0], x[1], Expression.Constant(f)),
            _ => throw new ArgumentException("Lanes takes one or two operands."),
        };
    }
}
