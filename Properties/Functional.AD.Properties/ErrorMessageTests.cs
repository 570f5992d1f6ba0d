using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Errors name what went wrong in the user's terms: the subexpression printed as C#, the shapes, the method, and
/// where to read more. Each test asserts the message content, not only the exception type.
/// </summary>
public sealed class ErrorMessageTests
{
    public sealed record Net(Tensor W1, Tensor B1);

    /// <summary>A record without a positional constructor: not a pytree.</summary>
    public sealed record NoPositional
    {
        public Tensor W { get; init; } = Zeros([1]);
    }

    const string Doc = "docs/csharp-subset.md";

    /// <summary>A user helper the reader cannot see into.</summary>
    public static Tensor MyHelper(Tensor x) => x * 2;

    // ---------------------------------------------------------------- non-scalar outputs

    [Fact]
    public void Grad_of_a_vector_valued_function_names_the_output_shape_when_run()
    {
        Expression<Func<Tensor, Tensor>> f = x => Tanh(x) * 2;
        var df = Ad.Grad(f).Compile();
        var e = Assert.Throws<GradException>(() => df(new Tensor(new float[] { 1, 2, 3 })));
        Assert.Contains("float32[3]", e.Message);
        Assert.Contains("scalar output", e.Message);
        Assert.Contains("Tanh(x)", e.Message);
        Assert.Contains("Np.Sum", e.Message);   // what would be accepted
        // a rank-0 tensor is fine
        Assert.Equal(0, df(new Tensor(new float[] { 0.5f }, [])).Rank);
    }

    [Fact]
    public void Grad_of_a_function_returning_a_tuple_fails_when_Grad_is_called()
    {
        Expression<Func<Tensor, (Tensor, Tensor)>> f = x => Tuple(Sum(x), Max(x));
        var e = Assert.Throws<GradException>(() => Ad.Grad(f));
        Assert.Contains("scalar output", e.Message);
        Assert.Contains("(Tensor, Tensor)", e.Message);
        Assert.Contains("Tuple(", e.Message);
    }

    // ---------------------------------------------------------------- shape errors

    [Fact]
    public void Dot_shape_mismatch_names_the_subexpression_and_both_shapes()
    {
        Expression<Func<Net, Tensor, Tensor>> loss = (p, x) => Sum(Tanh(Dot(p.W1, x) + p.B1));
        var df = Ad.Grad(loss).Compile();
        var e = Assert.Throws<ShapeException>(() => df(new Net(Zeros([3, 2]), Zeros([3])), Zeros([3])));
        Assert.Contains("Dot(p.W1, x)", e.Message);
        Assert.Contains("float32[3,2]", e.Message);
        Assert.Contains("float32[3]", e.Message);
        Assert.Contains("contracted axes differ", e.Message);
        Assert.Equal(new[] { "float32[3,2]", "float32[3]" }, e.Shapes.Select(s => s.ToString()));
    }

    [Fact]
    public void Dot_shape_mismatch_in_ValueAndGrad_names_the_subexpression_with_the_user_parameter_names()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (w, x) => Sum(Dot(w, x));
        var e = Assert.Throws<ShapeException>(() => Ad.ValueAndGrad(f).Compile()(Zeros([3, 2]), Zeros([3])));
        Assert.Contains("Dot(w, x)", e.Message);
        Assert.Contains("float32[3,2]", e.Message);
        Assert.Contains("float32[3]", e.Message);
    }

    [Fact]
    public void Broadcast_mismatch_names_the_subexpression_and_the_axis()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Sum(Exp(a) * b);
        var e = Assert.Throws<ShapeException>(() => Ad.Grad(f).Compile()(Zeros([2, 3]), Zeros([4])));
        Assert.Contains("(Exp(a) * b)", e.Message);
        Assert.Contains("float32[2,3]", e.Message);
        Assert.Contains("float32[4]", e.Message);
        Assert.Contains("broadcast", e.Message);
    }

    // ---------------------------------------------------------------- what the reader cannot take

    [Fact]
    public void A_call_to_a_user_method_names_the_method_and_prints_the_subexpression()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(MyHelper(x) + 1);
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("ErrorMessageTests.MyHelper", e.Message);
        Assert.Contains("`MyHelper(x)`", e.Message);
        Assert.Contains("not differentiable", e.Message);
        Assert.Contains(Doc, e.Message);
        Assert.Equal("MyHelper(x)", e.Subexpression);
    }

    [Fact]
    public void A_System_Math_function_without_a_derivative_rule_is_named()
    {
        Expression<Func<double, double>> f = x => Math.Log10(x) * x;
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("Math.Log10", e.Message);
        Assert.Contains("Log10(x)", e.Subexpression);
        Assert.Contains(Doc, e.Message);
    }

    [Fact]
    public void A_record_without_a_positional_constructor_is_not_a_pytree()
    {
        Expression<Func<NoPositional, Tensor>> f = r => Sum(r.W);
        var e = Assert.Throws<PytreeException>(() => Ad.Grad(f));
        Assert.Contains("NoPositional", e.Message);
        Assert.Contains("positional constructor", e.Message);
        Assert.Contains("record Params(Tensor W, Tensor B)", e.Message);   // an example of what is accepted
    }

    [Fact]
    public void A_hand_built_loop_is_rejected_with_a_pointer_to_the_subset_doc()
    {
        var x = Expression.Parameter(typeof(double), "x");
        var done = Expression.Label(typeof(double));
        var body = Expression.Block(Expression.Loop(Expression.Break(done, Expression.Multiply(x, x)), done));
        var f = Expression.Lambda<Func<double, double>>(body, x);
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("Loop", e.Message);
        Assert.Contains("not supported", e.Message);
        Assert.Contains(Doc, e.Message);
    }

    [Fact]
    public void A_hand_built_type_test_is_rejected_with_a_pointer_to_the_subset_doc()
    {
        var x = Expression.Parameter(typeof(double), "x");
        var isDouble = Expression.TypeIs(Expression.Convert(x, typeof(object)), typeof(double));
        var f = Expression.Lambda<Func<double, double>>(Expression.Condition(isDouble, x, Expression.Constant(0.0)), x);
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("TypeIs", e.Message);
        Assert.Contains("Is Double", e.Subexpression);
        Assert.Contains(Doc, e.Message);
    }

    [Fact]
    public void A_hand_built_assignment_is_rejected()
    {
        var x = Expression.Parameter(typeof(double), "x");
        var f = Expression.Lambda<Func<double, double>>(Expression.Assign(x, Expression.Multiply(x, x)), x);
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("Assign", e.Message);
        Assert.Contains(Doc, e.Message);
    }

    [Fact]
    public void Equality_operator_on_tensors_points_to_Np_Equal()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Sum(a == b ? a : b);
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("(a == b)", e.Message);
        Assert.Contains("Np.Equal", e.Message);
        Assert.Contains(Doc, e.Message);
    }

    [Fact]
    public void Invoking_a_compiled_delegate_is_rejected_and_Invoke_of_the_expression_suggested()
    {
        Func<Tensor, Tensor> square = z => z * z;
        Expression<Func<Tensor, Tensor>> f = x => Sum(square(x));
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("compiled delegate", e.Message);
        Assert.Contains("Expression<Func<...>>", e.Message);
        Assert.Contains(Doc, e.Message);

        Expression<Func<Tensor, Tensor>> sq = z => z * z;
        Expression<Func<Tensor, Tensor>> g = x => Sum(sq.Compile()(x));
        var e2 = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(g));
        Assert.Contains("sq.Compile()", e2.Message);
        Assert.Contains("compiled delegate", e2.Message);
    }

    [Fact]
    public void Reading_a_tensor_property_is_rejected_with_the_member_name()
    {
        Expression<Func<Tensor, double>> f = x => (double)Sum(x) / x.Size;
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("x.Size", e.Message);
        Assert.Contains("member Size", e.Message);
    }

    [Fact]
    public void An_unsupported_operator_is_named_with_its_operand_types()
    {
        Expression<Func<double, double>> f = x => (x > 0 ^ x < 1) ? x : -x;
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("((x > 0) ^ (x < 1))", e.Message);
        Assert.Contains("ExclusiveOr on bool and bool", e.Message);
    }

    // ---------------------------------------------------------------- static parameters

    [Fact]
    public void An_axis_that_is_a_parameter_must_be_a_constant()
    {
        Expression<Func<Tensor, int?, Tensor>> f = (x, axis) => Sum(Sum(x, axis));
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("axis of Sum", e.Message);
        Assert.Contains("static parameter", e.Message);
        Assert.Contains("constant", e.Message);
        Assert.Contains(Doc, e.Message);
    }

    [Fact]
    public void A_shape_built_from_a_parameter_must_be_a_constant()
    {
        Expression<Func<Tensor, int, Tensor>> f = (x, n) => Sum(Reshape(x, new[] { n, 2 }));
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("new [] {n, 2}", e.Message);
        Assert.Contains("shape of Reshape", e.Message);
        Assert.Contains("static parameter", e.Message);
    }

    [Fact]
    public void An_axis_computed_from_a_tensor_must_be_a_constant()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, k) => Sum(Sum(x, (int)(double)k));
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f));
        Assert.Contains("axis of Sum", e.Message);
        Assert.Contains("static parameter", e.Message);

        Expression<Func<Tensor, int, Tensor>> g = (x, a) => Sum(Sum(x, a));
        var e2 = Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(g));
        Assert.Contains("axis of Sum", e2.Message);
        Assert.Contains("static parameter", e2.Message);
    }

    [Fact]
    public void A_captured_axis_is_a_constant_and_is_accepted()
    {
        int axis = 1;
        Expression<Func<Tensor, Tensor>> f = x => Sum(Sum(x, axis) * new Tensor(new double[] { 1, 2 }));
        // Σ_i w_i Σ_j x_ij: ∂/∂x_ij = w_i
        var g = Ad.Grad(f).Compile()(Ones([2, 3], DType.Float64));
        Assert.Equal(new[] { 1.0, 1, 1, 2, 2, 2 }, g.ToDoubleArray());
    }

    // ---------------------------------------------------------------- exceptions share a base type

    [Fact]
    public void Reader_errors_are_AdExceptions()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(MyHelper(x));
        Assert.IsAssignableFrom<AdException>(Assert.ThrowsAny<Exception>(() => Ad.Grad(f)));
        Expression<Func<NoPositional, Tensor>> g = r => Sum(r.W);
        Assert.IsAssignableFrom<AdException>(Assert.ThrowsAny<Exception>(() => Ad.Show(g)));
    }
}
