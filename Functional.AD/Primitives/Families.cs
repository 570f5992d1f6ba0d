using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The family constructors of the primitive table. A primitive is one statement through one of them; the family fills
/// the columns its members share (element code, vector form, CPU lowering, shape family), so the CPU jit, the Torch
/// compiler, Vmap and the printer read the declaration and keep no lists of their own.
/// </summary>
internal static partial class Prims
{
    // ---------------------------------------------------------------- element code

    /// <summary>An operator on elements (<c>a + b</c>, <c>-a</c>).</summary>
    static ScalarForm Operator(ExpressionType op) => (x, _) => x.Length == 1 ? Expression.MakeUnary(op, x[0], x[0].Type) : Expression.MakeBinary(op, x[0], x[1]);

    /// <summary>A call of the double method, or of the float one for float elements (Math / MathF).</summary>
    static ScalarForm Calls(MethodInfo dbl, MethodInfo? flt) => (x, t) =>
    {
        var m = t == typeof(float) && flt is not null ? flt : dbl;
        var ps = m.GetParameters();
        return Primitive.Conv(Expression.Call(m, x.Select((a, i) => Primitive.Conv(a, ps[i].ParameterType))), t);
    };

    /// <summary>A scalar function held by the declaration, invoked per element.</summary>
    static ScalarForm Invoke(Func<double, double> f64, Func<float, float> f32) => (x, t) =>
        Expression.Invoke(Expression.Constant(t == typeof(float) ? f32 : f64), x[0]);

    /// <summary>A method of the vector helpers (<see cref="Vec512Ops"/>/<see cref="Vec256Ops"/>) by name.</summary>
    static VectorForm Vec(string helper) => (v, x) => v.Call(helper, x);

    /// <summary>The scalar methods applied lane by lane (for primitives with no vector arithmetic of their own).</summary>
    static VectorForm LanesOf(MethodInfo dbl, MethodInfo flt) =>
        dbl.GetParameters().Length == 1
            ? LanesOf(dbl.CreateDelegate<Func<double, double>>(), flt.CreateDelegate<Func<float, float>>())
            : (v, x) => v.Lanes(dbl.CreateDelegate<Func<double, double, double>>(), flt.CreateDelegate<Func<float, float, float>>(), x);

    static VectorForm LanesOf(Func<double, double> f64, Func<float, float> f32) => (v, x) => v.Lanes(f64, f32, x);

    // ---------------------------------------------------------------- families

    /// <summary>Fills the batching column of <paramref name="p"/> with <paramref name="rule"/>.</summary>
    static Primitive Batch(Primitive p, BatchRule rule)
    {
        p.Batched = (u, a, prm, k) => rule(u, p, a, prm, k);
        return p;
    }

    static Primitive Elementwise(PrimFamily family, string name, MethodInfo tensor, ScalarForm scalar, VectorForm vector, JvpRule? jvp,
        TransposeRule? transpose, MethodInfo? dbl, MethodInfo? flt, MethodInfo[] aliases)
    {
        var p = Def(name, tensor, dbl, flt, aliases);
        p.Family = family;
        p.Scalar = scalar;
        p.Vector = vector;
        if (jvp is null) p.ZeroDerivative = true; else p.Jvp = jvp;
        p.Transpose = transpose;
        p.Cpu = new CpuLowering { Result = EagerResult.Fresh };
        return Batch(p, BatchRules.Elementwise);
    }

    /// <summary>
    /// An elementwise primitive of one operand. <paramref name="jvp"/> null declares a zero derivative (sign, step).
    /// <paramref name="dbl"/>/<paramref name="flt"/> are its C# scalar spellings (<c>Math.Tanh</c>, <c>MathF.Tanh</c>),
    /// read in <c>double</c> and <c>float</c> code.
    /// </summary>
    static Primitive Unary(string name, MethodInfo tensor, ScalarForm scalar, VectorForm vector, JvpRule? jvp,
        MethodInfo? dbl = null, MethodInfo? flt = null, TransposeRule? transpose = null, params MethodInfo[] aliases) =>
        Elementwise(PrimFamily.UnaryElementwise, name, tensor, scalar, vector, jvp, transpose, dbl, flt, aliases);

    /// <summary>
    /// An elementwise primitive of one operand given by its scalar functions: the eager kernel (<see cref="Eager.Map"/>),
    /// the unrolled code and, unless <paramref name="vector"/> is given, the vector form all run them, so every backend
    /// of the CPU gives the same bits. Its <c>Np</c> method is <c>Eager.Map(Prims.X, x)</c>.
    /// </summary>
    static Primitive UnaryFn(string name, MethodInfo tensor, Func<double, double> f64, Func<float, float> f32, JvpRule? jvp,
        VectorForm? vector = null, MethodInfo? dbl = null, MethodInfo? flt = null)
    {
        var p = Unary(name, tensor, Invoke(f64, f32), vector ?? LanesOf(f64, f32), jvp, dbl, flt);
        p.F64 = f64;
        p.F32 = f32;
        return p;
    }

    /// <summary>An elementwise primitive of two or more operands, with numpy broadcasting and JAX dtype promotion.</summary>
    static Primitive Binary(string name, MethodInfo? tensor, ScalarForm scalar, VectorForm vector, JvpRule? jvp,
        TransposeRule? transpose = null, MethodInfo? dbl = null, MethodInfo? flt = null, params MethodInfo[] aliases) =>
        Elementwise(PrimFamily.BinaryElementwise, name, tensor!, scalar, vector, jvp, transpose, dbl, flt, aliases);

    /// <summary>
    /// A comparison: a bool tensor on tensors (compared in the operands' promoted dtype), a <c>bool</c> on C# scalars;
    /// zero derivative. Its element code gives 1 or 0 in the compute type: the CPU jit carries a bool value inside
    /// generated code as 0/1 and stores it as <see cref="bool"/> only in a bool tensor.
    /// </summary>
    static Primitive Comparison(string name, MethodInfo? tensor, ExpressionType op, string infix, params MethodInfo[] aliases)
    {
        ScalarForm scalar = (x, t) => Expression.Condition(Expression.MakeBinary(op, x[0], x[1]),
            Primitive.Conv(Expression.Constant(1.0), t), Primitive.Conv(Expression.Constant(0.0), t));
        var p = Binary(name, tensor, scalar, Vec(name), null, aliases: aliases);
        p.Accepts = DTypeSets.All;
        p.Gives = _ => DType.Bool;
        p.KindRule = (k, _, _) => k.Contains(Kind.Tensor) ? Kind.Tensor : Kind.Bool;
        p.EmitRule = (a, k, prm, _) => k.Contains(Kind.Tensor)
            ? Primitive.CallWith(tensor ?? throw new InvalidOperationException($"{name} on tensors is not supported."), a, prm)
            : Expression.MakeBinary(op, a[0], a[1]);
        p.Infix = infix;
        p.FormatRule = (a, k, _) => k.Contains(Kind.Tensor) && tensor is not null && tensor.DeclaringType == typeof(Np)
            ? $"Np.{tensor.Name}({a[0]}, {a[1]})" : $"{a[0]} {infix} {a[1]}";
        return p;
    }

    /// <summary>The arithmetic operators, on tensors and C# scalars alike.</summary>
    static Primitive Arithmetic(string name, MethodInfo tensor, ExpressionType op, string infix, JvpRule jvp, TransposeRule transpose,
        params MethodInfo[] aliases)
    {
        var p = Binary(name, tensor, Operator(op), Vec(name), jvp, transpose, aliases: aliases);
        p.Infix = infix;
        p.EmitRule = (a, _, _, _) => Expression.MakeBinary(op, a[0], a[1]);
        return p;
    }

    /// <summary>A reduction over one axis (or all) of its first operand; <paramref name="linear"/> for Sum and Mean.</summary>
    static Primitive Reduction(string name, MethodInfo tensor, JvpRule? jvp, TransposeRule? transpose = null, bool linear = false, EagerResult result = EagerResult.MayKeep,
        Accumulation accumulates = Accumulation.None)
    {
        // the axis parameter: int? (null: every axis) for reductions, int for normalisations along one axis (Softmax)
        var axis = tensor.GetParameters()[1].ParameterType;
        var p = Def(name, tensor);
        p.Family = PrimFamily.Reduction;
        if (jvp is null) p.ZeroDerivative = true; else p.Jvp = jvp;
        p.Transpose = transpose;
        p.Accumulates = accumulates;
        if (linear || result != EagerResult.MayKeep) p.Cpu = new CpuLowering { Linear = linear ? [0] : null, Result = result };
        return Batch(p, axis == typeof(int?) ? BatchRules.AxisReduction : BatchRules.AlongAxis);
    }

    /// <summary>
    /// A structural primitive: moves, copies or sums elements, linear in the operands at <paramref name="linearIn"/>
    /// (empty: all of them); the others (indices, avals) are non-differentiable and must be known at specialisation.
    /// <paramref name="likeAval"/>: the result is shaped like the aval operand at that index.
    /// </summary>
    static Primitive Structural(string name, MethodInfo tensor, JvpRule jvp, TransposeRule transpose, int[] linearIn, BatchRule batched,
        int likeAval = -1, EagerResult result = EagerResult.MayKeep, bool identityWhenSameAval = false, OneElement repeats = OneElement.No)
    {
        var p = Def(name, tensor);
        p.Family = PrimFamily.Structural;
        p.Jvp = jvp;
        p.Transpose = transpose;
        p.LikeAval = likeAval;
        if (linearIn.Length > 0)
        {
            int arity = tensor.GetParameters().Count(q => Primitive.IsOperandType(q.ParameterType));
            p.NonDiff = SmallArrays.RangeExcept(arity, linearIn);
        }
        p.Cpu = new CpuLowering { Linear = linearIn, Result = result, IdentityWhenSameAval = identityWhenSameAval, Repeats = repeats };
        if (identityWhenSameAval)
            p.Rewrite = (b, a, _) => a[0].Kind == Kind.Tensor && a[0].Cls == a[1].Cls && a[0].Cls > 0 ? a[0] : null;
        return Batch(p, batched);
    }

    /// <summary>A bilinear product in operands 0 and 1 (a third, aval operand gives a shape); <paramref name="product"/>
    /// says how it maps onto the GEMM (transpose a, transpose b); <paramref name="dims"/> and <paramref name="terms"/> its
    /// shape and unrolled terms on vectors and matrices, when it declares them.</summary>
    static Primitive Contraction(string name, MethodInfo tensor, JvpRule jvp, TransposeRule transpose, (bool TA, bool TB) product, BatchRule batched,
        Func<int[], int[], int[]?>? dims = null, Func<int[], int[], ProbeCache.Term[][]>? terms = null)
    {
        var p = Def(name, tensor);
        p.Family = PrimFamily.Contraction;
        p.Jvp = jvp;
        p.Transpose = transpose;
        if (dims is not null) p.KnownAval = (k, a) => KnownProduct(dims, k, a);
        if (tensor.GetParameters().Length > 2) p.NonDiff = [2];
        p.Cpu = new CpuLowering { Bilinear = true, Product = product, Result = EagerResult.Fresh, ProductTerms = terms };
        return Batch(p, batched);
    }

    /// <summary>The aval of a product of two float tensors whose dims <paramref name="dims"/> accepts (JAX promotion), else null.</summary>
    static Aval? KnownProduct(Func<int[], int[], int[]?> dims, Kind[] k, Aval[] a)
    {
        if (a.Length != 2 || k[0] != Kind.Tensor || k[1] != Kind.Tensor || a[0].DType is not (DType.Float32 or DType.Float64)
            || a[1].DType is not (DType.Float32 or DType.Float64) || dims(a[0].Dims, a[1].Dims) is not { } d)
            return null;
        var (dt, weak) = DTypes.Promote(a[0].DType, a[0].Weak, a[1].DType, a[1].Weak);
        return new Aval(d, dt, weak, adopt: true);
    }

    /// <summary>A value that depends only on its aval operand's shape (zeros, ones, the gradient seed): zero derivative.
    /// <paramref name="valueOf"/> makes it from the parameters and the operands' avals.</summary>
    static Primitive ShapeOnly(string name, MethodInfo tensor, BatchRule batched, Func<Params, Aval[], Tensor> valueOf, int likeAval = -1)
    {
        var p = Def(name, tensor);
        p.ZeroDerivative = true;
        p.LikeAval = likeAval;
        p.Cpu = new CpuLowering { ShapeOnly = true, ValueOf = valueOf };
        return Batch(p, batched);
    }

    /// <summary>A conversion between a tensor and a C# scalar, or between scalar types.</summary>
    static Primitive Conversion(string name, MethodInfo? tensor, Kind result, JvpRule? jvp, TransposeRule? transpose, BatchRule batched,
        MethodInfo? dbl = null, MethodInfo? flt = null, bool readsScalar = false, params MethodInfo[] aliases)
    {
        var p = Def(name, tensor, dbl, flt, aliases);
        p.Family = PrimFamily.Conversion;
        p.KindRule = (_, _, _) => result;
        if (jvp is null) p.ZeroDerivative = true; else p.Jvp = jvp;
        p.Transpose = transpose;
        if (readsScalar) p.Cpu = new CpuLowering { ReadsScalar = true };
        return Batch(p, batched);
    }

    /// <summary>A node with sub-graphs (a conditional, a loop, a custom rule): its rules fill the slots of its declaration.</summary>
    static Primitive Control(string name)
    {
        var p = Def(name);
        p.Family = PrimFamily.Control;
        return p;
    }
}
