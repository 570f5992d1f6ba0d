using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>Forward rule: the tangent of a primitive's output given its operands' tangents (<c>null</c> is a symbolic zero).</summary>
internal delegate V? JvpRule(RuleCtx c, V?[] t);

/// <summary>Transpose rule of a linear primitive: cotangents of its linear operands given the output's cotangent.</summary>
internal delegate V?[] TransposeRule(RuleCtx c, V ct);

/// <summary>The code of one element of an elementwise primitive: the operands' elements, all of element type <c>t</c>
/// (<c>double</c> or <c>float</c>), give the result's element of type <c>t</c>.</summary>
internal delegate Expression ScalarForm(Expression[] x, Type t);

/// <summary>The code of one vector of elements of an elementwise primitive (fused loops and the batch loop's lanes):
/// the operands as vectors of the width and element type that <paramref name="v"/> describes.</summary>
internal delegate Expression VectorForm(VectorCode v, Expression[] x);

/// <summary>A batching rule: the primitive <paramref name="p"/> applied to operands whose first <paramref name="k"/> axes
/// are batch axes (sizes B or 1, broadcast), acting on the remaining core axes (see <c>Batching</c>).</summary>
internal delegate Node BatchRule(Unbatcher u, Primitive p, Node[] a, Params prm, int k);

/// <summary>How a primitive's result lays out its first operand's elements (read by the jit's batch loop, which
/// looks through Vmap's moves of the batch axis).</summary>
internal enum Relayout
{
    /// <summary>Anything else.</summary>
    Other,
    /// <summary>The same values in the same shape (a move of axis 0 to axis 0).</summary>
    Same,
    /// <summary>The same elements in order, with a size-1 axis in front.</summary>
    UnitAxisInFront,
    /// <summary>Axis 0 broadcast to the batch size: the same elements when it already has that size.</summary>
    BroadcastAxis0,
}

/// <summary>A reduction the jit's batch loop can accumulate across examples.</summary>
internal enum Accumulation { None, Sum, Mean }

/// <summary>The family a primitive is declared through; the family fills the columns its members share.</summary>
internal enum PrimFamily
{
    /// <summary>Inputs, constants and shape helpers: no arithmetic of their own.</summary>
    Structure,
    /// <summary>Elementwise on one operand (<c>Tanh</c>, <c>Log1p</c>).</summary>
    UnaryElementwise,
    /// <summary>Elementwise on two or more operands with numpy broadcasting (<c>Add</c>, <c>Pow</c>, <c>Clip</c>).</summary>
    BinaryElementwise,
    /// <summary>Reduces axes of one operand (<c>Sum</c>, <c>Max</c>, <c>LogSumExp</c>).</summary>
    Reduction,
    /// <summary>Moves, copies or sums elements without arithmetic on their values: linear (<c>Transpose</c>, <c>Take</c>, <c>SumTo</c>).</summary>
    Structural,
    /// <summary>Bilinear products (<c>Dot</c>, <c>MatMul</c> and their transposed slots).</summary>
    Contraction,
    /// <summary>Nodes with sub-graphs: conditionals, loops, custom rules.</summary>
    Control,
    /// <summary>Conversions between tensors and C# scalars, and between scalar types.</summary>
    Conversion,
}

/// <summary>
/// A primitive operation of the IR. Everything about it sits in its one declaration (see <c>Prims</c>), made through
/// its family: how it is written as C# (its eager method), its element code for unrolled and fused loops, the dtypes
/// it takes, its result kind, its JVP rule, its transpose rule when it is linear, how the CPU jit lowers it, and its
/// printing. Primitives are compared by reference; <see cref="Name"/> is only for printing.
/// </summary>
internal sealed partial class Primitive
{
    /// <summary>The name used when printing.</summary>
    public string Name { get; }

    /// <summary>The family it was declared through.</summary>
    internal PrimFamily Family = PrimFamily.Structure;
    /// <summary>Elementwise families: the code of one element (unrolled code, the scalar tail of fused loops).</summary>
    internal ScalarForm? Scalar;
    /// <summary>Elementwise families: the code of one vector of elements (fused loops, the batch loop's lanes). Every
    /// elementwise primitive has one, so no primitive cuts a fusion chain (a test checks it).</summary>
    internal VectorForm? Vector;
    /// <summary>Unary elementwise primitives declared by scalar functions: the float64 function, from which the eager
    /// kernel, the unrolled code and the vector form (lane by lane) all come, so they agree to the bit.</summary>
    internal Func<double, double>? F64;
    /// <summary>The float32 function of a primitive declared by scalar functions (see <see cref="F64"/>).</summary>
    internal Func<float, float>? F32;
    /// <summary>
    /// The dtype column: the dtypes its tensor operands may have, after promotion (every number type by default: bool
    /// operands of arithmetic are refused; comparisons, selections, logical and structural primitives take every dtype).
    /// </summary>
    internal DType[] Accepts = DTypeSets.Numbers;
    /// <summary>The result dtype given the operands' promoted dtype: the identity, except float-only functions (an integer
    /// operand gives float32, as jax.numpy promotes it), comparisons (bool) and the integer-valued Argmax.</summary>
    internal Func<DType, DType> Gives = d => d;
    /// <summary>How the CPU jit lowers it once shapes are known (null: by calling its eager method).</summary>
    internal CpuLowering? Cpu;
    /// <summary>How its result lays out operand 0's elements, given its static parameters (null: <see cref="Relayout.Other"/>).</summary>
    internal Func<Params, Relayout>? RelayoutOf;
    /// <summary>A reduction (over the axis in parameter 0) that a batch loop can accumulate example by example.</summary>
    internal Accumulation Accumulates;

    internal MethodInfo? TensorMethod;
    internal MethodInfo? DoubleMethod;
    internal MethodInfo? FloatMethod;
    internal Func<Kind[], Params, Graph[], Kind>? KindRule;
    internal Func<Expression[], Kind[], Params, Graph[], Expression>? EmitRule;
    internal JvpRule? Jvp;
    internal TransposeRule? Transpose;
    /// <summary>The derivative is zero everywhere it exists (comparisons, argmax, sign, one-hot).</summary>
    internal bool ZeroDerivative;
    /// <summary>Operands whose tangents are ignored (indices, masks).</summary>
    internal int[] NonDiff = [];
    internal bool Foldable = true;
    internal Func<Builder, Node[], Params, Node?>? Rewrite;
    /// <summary>Infix operator text, for printing (<c>"+"</c>); <c>null</c> for calls.</summary>
    internal string? Infix;
    internal Func<string[], Kind[], Params, string>? FormatRule;
    /// <summary>Shape family: elementwise (output shaped like its broadcast operands) ...</summary>
    internal bool Elementwise => Family is PrimFamily.UnaryElementwise or PrimFamily.BinaryElementwise;
    /// <summary>... or shaped like the aval operand at this index (SumTo, BroadcastTo, Zeros, ...).</summary>
    internal int LikeAval = -1;
    /// <summary>
    /// The vectorised eager implementation at a batch count k &gt; 0 (operands as boxed values, the static
    /// parameters, k): each Tensor/Aval operand's first k axes are batch axes (sizes B or 1, broadcast), the primitive
    /// applies to the remaining core axes. Assigned for every primitive in <c>Batching</c>.
    /// </summary>
    internal Func<Unbatcher, Node[], Params, int, Node>? Batched;

    internal Primitive(string name) => Name = name;

    /// <inheritdoc/>
    public override string ToString() => Name;

    internal bool HasAllRules => ZeroDerivative || Jvp is not null;

    internal Kind KindOf(Kind[] args, Params p, Graph[] subs)
    {
        if (KindRule is not null) return KindRule(args, p, subs);
        if (args.Contains(Kind.Tensor)) return Kind.Tensor;
        if (args.Contains(Kind.Double)) return Kind.Double;
        if (args.Contains(Kind.Float)) return Kind.Float;
        return Kind.Tensor;
    }

    internal MethodInfo MethodFor(Kind[] kinds)
    {
        bool anyTensor = kinds.Contains(Kind.Tensor) || kinds.Contains(Kind.Aval);
        if (!anyTensor)
        {
            if (kinds.All(k => k == Kind.Float) && FloatMethod is not null) return FloatMethod;
            if (DoubleMethod is not null && kinds.All(k => k is Kind.Double or Kind.Float or Kind.Bool)) return DoubleMethod;
        }
        return TensorMethod ?? throw new InvalidOperationException($"Primitive {Name} has no implementation for operands of kinds {string.Join(", ", kinds)}.");
    }

    internal static bool IsOperandType(Type t) =>
        t == typeof(Tensor) || t == typeof(Tensor[]) || t == typeof(double) || t == typeof(float) || t == typeof(Aval) || t == typeof(Aval[]);

    internal Expression Emit(Expression[] args, Kind[] kinds, Params p, Graph[] subs)
    {
        if (EmitRule is not null) return EmitRule(args, kinds, p, subs);
        // an elementwise primitive with no C# scalar method of its own (Expm1, Erf, Square, %, Clip, which derivative
        // rules also build in double and float code) runs its scalar form there, in the operands' C# type: calling the
        // tensor method instead would round-trip through a weak tensor whose kind no longer matches its type
        if (Scalar is not null && Elementwise && DoubleMethod is null && kinds.All(k => k is Kind.Double or Kind.Float)
            && !(kinds.All(k => k == Kind.Float) && FloatMethod is not null))
        {
            var t = kinds.All(k => k == Kind.Float) ? typeof(float) : typeof(double);
            return Scalar(args.Select(a => Conv(a, t)).ToArray(), t);
        }
        var m = MethodFor(kinds);
        return CallWith(m, args, p);
    }

    /// <summary>Calls <paramref name="m"/> with the operands in its operand positions (an array parameter takes the
    /// rest) and the static parameters, in order, in the other positions.</summary>
    internal static Expression CallWith(MethodInfo m, Expression[] args, Params p)
    {
        var ps = m.GetParameters();
        int fixedOperands = ps.Count(q => IsOperandType(q.ParameterType) && !q.ParameterType.IsArray);
        bool hasArray = ps.Any(q => IsOperandType(q.ParameterType) && q.ParameterType.IsArray);
        int arrayCount = hasArray ? args.Length - fixedOperands : 0;
        var call = new Expression[ps.Length];
        int ai = 0, si = 0;
        for (int i = 0; i < ps.Length; i++)
        {
            var pt = ps[i].ParameterType;
            if (IsOperandType(pt))
            {
                if (pt.IsArray)
                {
                    call[i] = Expression.NewArrayInit(pt.GetElementType()!, args.Skip(ai).Take(arrayCount).Select(a => Conv(a, pt.GetElementType()!)));
                    ai += arrayCount;
                }
                else call[i] = Conv(args[ai++], pt);
            }
            else call[i] = Expression.Constant(p[si++], pt);
        }
        return Expression.Call(m, call);
    }

    internal static Expression Conv(Expression e, Type t) => e.Type == t ? e : Expression.Convert(e, t);

    /// <summary>Evaluates the primitive on constant operands (constant folding), by running the code it emits.</summary>
    internal object? Eval(object[] args, Kind[] kinds, Params p, int batch)
    {
        if (batch > 0) return Vmapped.Run(this, p, batch, args);
        return Eval(args, kinds, p);
    }

    internal object? Eval(object[] args, Kind[] kinds, Params p)
    {
        var exprs = args.Select((a, i) => (Expression)Expression.Constant(a, kinds[i].ClrType(a.GetType()))).ToArray();
        var body = Emit(exprs, kinds, p, []);
        return Expression.Lambda<Func<object?>>(Expression.Convert(body, typeof(object))).Compile(preferInterpretation: true)();
    }

    internal string Format(string[] args, Kind[] kinds, Params p)
    {
        if (FormatRule is not null) return FormatRule(args, kinds, p);
        if (Infix is not null)
            return args.Length == 1 ? $"{Infix}{args[0]}" : $"{args[0]} {Infix} {args[1]}";
        var m = MethodFor(kinds);
        var ps = m.GetParameters();
        var parts = new List<string>();
        int ai = 0, si = 0;
        int fixedOperands = ps.Count(q => IsOperandType(q.ParameterType) && !q.ParameterType.IsArray);
        int arrayCount = args.Length - fixedOperands;
        foreach (var q in ps)
        {
            if (IsOperandType(q.ParameterType))
            {
                if (q.ParameterType.IsArray) { parts.Add("[" + string.Join(", ", args.Skip(ai).Take(arrayCount)) + "]"); ai += arrayCount; }
                else parts.Add(args[ai++]);
            }
            else
            {
                var v = p[si++];
                if (q.HasDefaultValue && Equals(q.DefaultValue, v)) continue;
                parts.Add($"{q.Name}: {Printer.Literal(v)}");
            }
        }
        return $"{m.DeclaringType!.Name}.{m.Name}({string.Join(", ", parts)})";
    }
}
