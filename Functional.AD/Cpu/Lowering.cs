using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// How the CPU jit lowers one primitive when its shapes are known: the CPU column of the one table, keyed by the
/// primitive. A primitive without an entry (or whose shapes are too large for the rule) is lowered by calling its eager
/// method, which is real and correct, so every expression jits.
/// </summary>
internal sealed class Lowering
{
    /// <summary>Elementwise: the scalar code of one element, given the operands' elements in the result's element type.</summary>
    public Func<Expression[], Type, Expression>? Scalar;
    /// <summary>Linear in the tensor operands at these positions (jointly); the other operands must be known at specialisation.</summary>
    public int[]? Linear;
    /// <summary>Bilinear in operands 0 and 1 (the products); other operands must be known at specialisation.</summary>
    public bool Bilinear;
    /// <summary>The value depends only on the operands' shapes (Zeros, Ones, the gradient seed): a constant once shapes are known.</summary>
    public bool ShapeOnly;
    /// <summary>Returns its first operand unchanged when the result's aval equals the operand's (SumTo, BroadcastTo, ReshapeTo).</summary>
    public bool IdentityWhenSameAval;
    /// <summary>A matrix-product kernel for large operands (see <see cref="Gemm"/>): (a, b, transposeA, transposeB).</summary>
    public (bool TA, bool TB)? Product;
}

/// <summary>The CPU lowering table.</summary>
internal static class CpuTable
{
    static readonly Dictionary<Primitive, Lowering> table = Build();

    public static Lowering? For(Primitive p) => table.TryGetValue(p, out var l) ? l : null;

    static Expression Const(Type t, double v) => t == typeof(double) ? Expression.Constant(v) : Expression.Constant((float)v);

    /// <summary>Calls the primitive's scalar method for the element type (Math for double, MathF for float).</summary>
    static Func<Expression[], Type, Expression> Method(Primitive p) => (a, t) =>
    {
        var m = t == typeof(float) && p.FloatMethod is not null ? p.FloatMethod : p.DoubleMethod!;
        var ps = m.GetParameters();
        var call = Expression.Call(m, a.Select((x, i) => Primitive.Conv(x, ps[i].ParameterType)));
        return Primitive.Conv(call, t);
    };

    static Dictionary<Primitive, Lowering> Build()
    {
        var d = new Dictionary<Primitive, Lowering>();
        void Scalar(Primitive p, Func<Expression[], Type, Expression> f) => d[p] = new Lowering { Scalar = f };

        Scalar(Prims.Add, (a, _) => Expression.Add(a[0], a[1]));
        Scalar(Prims.Sub, (a, _) => Expression.Subtract(a[0], a[1]));
        Scalar(Prims.Mul, (a, _) => Expression.Multiply(a[0], a[1]));
        Scalar(Prims.Div, (a, _) => Expression.Divide(a[0], a[1]));
        Scalar(Prims.Neg, (a, _) => Expression.Negate(a[0]));
        Scalar(Prims.StopGradient, (a, _) => a[0]);
        foreach (var p in new[] { Prims.Exp, Prims.Log, Prims.Tanh, Prims.Sin, Prims.Cos, Prims.Sqrt, Prims.Abs, Prims.Sign, Prims.Sigmoid,
                                  Prims.Softplus, Prims.Relu, Prims.Pow, Prims.Maximum, Prims.Minimum })
            Scalar(p, Method(p));
        foreach (var (p, op) in new[] { (Prims.Greater, ExpressionType.GreaterThan), (Prims.Less, ExpressionType.LessThan),
                                        (Prims.GreaterEqual, ExpressionType.GreaterThanOrEqual), (Prims.LessEqual, ExpressionType.LessThanOrEqual),
                                        (Prims.Equal, ExpressionType.Equal) })
            Scalar(p, (a, t) => Expression.Condition(Expression.MakeBinary(op, a[0], a[1]), Const(t, 1), Const(t, 0)));
        Scalar(Prims.Where, (a, t) => Expression.Condition(Expression.NotEqual(a[0], Const(t, 0)), a[1], a[2]));

        foreach (var p in new[] { Prims.Transpose, Prims.Reshape, Prims.ReshapeTo, Prims.BroadcastToShape, Prims.BroadcastTo, Prims.SumTo,
                                  Prims.Sum, Prims.Mean, Prims.ExpandReduced, Prims.ExpandReducedMean, Prims.Take, Prims.ScatterAdd,
                                  Prims.SplitPart, Prims.PadPart, Prims.Unstack, Prims.StackPart })
            d[p] = new Lowering { Linear = [0] };
        foreach (var p in new[] { Prims.Concatenate, Prims.Stack }) d[p] = new Lowering { Linear = [] };   // every operand
        foreach (var p in new[] { Prims.SumTo, Prims.BroadcastTo, Prims.ReshapeTo }) d[p].IdentityWhenSameAval = true;
        d[Prims.Dot] = new Lowering { Bilinear = true, Product = (false, false) };
        d[Prims.DotTA] = new Lowering { Bilinear = true, Product = (false, true) };
        d[Prims.DotTB] = new Lowering { Bilinear = true, Product = (true, false) };
        foreach (var p in new[] { Prims.MatMul, Prims.MatMulTA, Prims.MatMulTB }) d[p] = new Lowering { Bilinear = true };
        d[Prims.MatMul].Product = (false, false);
        d[Prims.MatMulTA].Product = (false, true);   // 2-D: g b^T
        d[Prims.MatMulTB].Product = (true, false);   // 2-D: a^T g
        foreach (var p in new[] { Prims.Zeros, Prims.Ones, Prims.GradSeed }) d[p] = new Lowering { ShapeOnly = true };
        return d;
    }
}
