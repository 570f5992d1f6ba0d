namespace Functional.AD;

/// <summary>The memory layout of a convolution's operands.</summary>
/// <example><code>
/// var x = Np.Zeros([8, 28, 28, 3]);                      // NHWC
/// var w = Np.Zeros([3, 3, 3, 16]);                       // HWIO
/// var y = Lax.Conv(x, w, [1, 1], "SAME", layout: ConvLayout.ChannelsLast);   // [8, 28, 28, 16]
/// </code></example>
public enum ConvLayout
{
    /// <summary>Channels first: lhs and output <c>[N, C, spatial...]</c> (NCHW), kernel <c>[O, I, spatial...]</c> (OIHW), as PyTorch.</summary>
    ChannelsFirst,
    /// <summary>Channels last: lhs and output <c>[N, spatial..., C]</c> (NHWC), kernel <c>[spatial..., I, O]</c> (HWIO), as TensorFlow.</summary>
    ChannelsLast,
}

public static partial class Lax
{
    /// <summary>
    /// A general convolution, JAX's <c>lax.conv_general_dilated</c>, over 1, 2 or 3 spatial axes:
    /// <c>out[n, o, y] = Σ_i Σ_k lhs'[n', g I + i, y s + k d_rhs] rhs[o, i, k]</c>, where <c>lhs'</c> is the lhs dilated by
    /// <paramref name="lhsDilation"/> (zeros between elements) and padded, <c>g</c> is the group of output channel o
    /// (<paramref name="featureGroupCount"/> groups of channels; with <paramref name="batchGroupCount"/> groups, group
    /// g reads lhs batch rows <c>g N/G + n</c> instead). Bilinear: its derivatives are <see cref="ConvTransposeLhs(Tensor, Tensor, Aval, int[], string, int[], int[], int, int, ConvLayout)"/>
    /// and <see cref="ConvTransposeRhs(Tensor, Tensor, Aval, int[], string, int[], int[], int, int, ConvLayout)"/>.
    /// Example: <c>Lax.Conv(x, w, [1, 1], "SAME")</c> with x <c>[8, 3, 28, 28]</c> and w <c>[16, 3, 3, 3]</c> has shape <c>[8, 16, 28, 28]</c>.
    /// </summary>
    /// <param name="lhs">The input, <c>[N, C, spatial...]</c> (or <c>[N, spatial..., C]</c> with <see cref="ConvLayout.ChannelsLast"/>), float.</param>
    /// <param name="rhs">The kernel, <c>[O, C / featureGroupCount, spatial...]</c> (or <c>[spatial..., I, O]</c>).</param>
    /// <param name="windowStrides">The stride along each spatial axis (its length is the number of spatial axes, 1 to 3).</param>
    /// <param name="padding"><c>"SAME"</c> (the output has ceil(x / stride) positions; the low side gets the smaller half) or <c>"VALID"</c> (no padding).</param>
    /// <param name="lhsDilation">The input dilation per spatial axis (null: 1); a transposed convolution is a convolution with lhs dilation.</param>
    /// <param name="rhsDilation">The kernel dilation per spatial axis (null: 1), atrous convolution.</param>
    /// <param name="featureGroupCount">Groups of input and output channels (depthwise: the number of input channels).</param>
    /// <param name="batchGroupCount">Groups of the lhs batch, each convolved with its own group of output channels.</param>
    /// <param name="layout">The operands' layout.</param>
    /// <returns>The convolution, <c>[N / batchGroupCount, O, spatial...]</c>.</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit, the window is larger than the padded input, or a dtype is not a float.</exception>
    public static Tensor Conv(Tensor lhs, Tensor rhs, int[] windowStrides, string padding, int[]? lhsDilation = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, int batchGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.Conv(lhs, rhs, ConvParams.Conv(windowStrides, padding, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout));

    /// <summary>
    /// A general convolution with explicit padding: <paramref name="padding"/> holds a (low, high) pair per spatial axis,
    /// flattened (<c>[low0, high0, low1, high1]</c> for 2-D); a negative entry crops. Otherwise as
    /// <see cref="Conv(Tensor, Tensor, int[], string, int[], int[], int, int, ConvLayout)"/>.
    /// Example: <c>Lax.Conv(x, w, [2, 2], [1, 1, 1, 1])</c>.
    /// </summary>
    /// <param name="lhs">The input, <c>[N, C, spatial...]</c>.</param>
    /// <param name="rhs">The kernel, <c>[O, C / featureGroupCount, spatial...]</c>.</param>
    /// <param name="windowStrides">The stride along each spatial axis.</param>
    /// <param name="padding">(low, high) per spatial axis, flattened.</param>
    /// <param name="lhsDilation">The input dilation per spatial axis (null: 1).</param>
    /// <param name="rhsDilation">The kernel dilation per spatial axis (null: 1).</param>
    /// <param name="featureGroupCount">Groups of input and output channels.</param>
    /// <param name="batchGroupCount">Groups of the lhs batch.</param>
    /// <param name="layout">The operands' layout.</param>
    /// <returns>The convolution.</returns>
    /// <exception cref="ShapeException">Ranks, channels or groups do not fit, or the window is larger than the padded input.</exception>
    public static Tensor Conv(Tensor lhs, Tensor rhs, int[] windowStrides, int[] padding, int[]? lhsDilation = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, int batchGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.Conv(lhs, rhs, ConvParams.Conv(windowStrides, padding, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout));

    /// <summary>
    /// The cotangent of <c>Lax.Conv</c>'s lhs (reverse rule): <c>x̄</c> with <c>&lt;Conv(x, w), ct&gt; = &lt;x, x̄&gt;</c> for
    /// every x of aval <paramref name="lhs"/>; a convolution of <paramref name="ct"/> with the flipped kernel, lhs dilation
    /// the stride. The static arguments are the convolution's own.
    /// </summary>
    /// <param name="ct">The output cotangent.</param><param name="rhs">The kernel.</param><param name="lhs">The aval of the convolution's lhs.</param>
    /// <param name="windowStrides">As Conv.</param><param name="padding">As Conv.</param><param name="lhsDilation">As Conv.</param>
    /// <param name="rhsDilation">As Conv.</param><param name="featureGroupCount">As Conv.</param><param name="batchGroupCount">As Conv.</param><param name="layout">As Conv.</param>
    /// <returns>The lhs cotangent, of aval <paramref name="lhs"/>.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the convolution.</exception>
    public static Tensor ConvTransposeLhs(Tensor ct, Tensor rhs, Aval lhs, int[] windowStrides, string padding, int[]? lhsDilation = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, int batchGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.ConvTransposeLhs(ct, rhs, lhs, ConvParams.Conv(windowStrides, padding, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout));

    /// <summary>The cotangent of <c>Lax.Conv</c>'s lhs, explicit padding (see the overload with a padding string).</summary>
    /// <param name="ct">The output cotangent.</param><param name="rhs">The kernel.</param><param name="lhs">The aval of the convolution's lhs.</param>
    /// <param name="windowStrides">As Conv.</param><param name="padding">As Conv.</param><param name="lhsDilation">As Conv.</param>
    /// <param name="rhsDilation">As Conv.</param><param name="featureGroupCount">As Conv.</param><param name="batchGroupCount">As Conv.</param><param name="layout">As Conv.</param>
    /// <returns>The lhs cotangent.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the convolution.</exception>
    public static Tensor ConvTransposeLhs(Tensor ct, Tensor rhs, Aval lhs, int[] windowStrides, int[] padding, int[]? lhsDilation = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, int batchGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.ConvTransposeLhs(ct, rhs, lhs, ConvParams.Conv(windowStrides, padding, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout));

    /// <summary>
    /// A transposed convolution (PyTorch's <c>conv_transpose</c>, a "deconvolution"): the lhs cotangent of the
    /// convolution with these parameters whose output is <paramref name="x"/>; the lhs size is
    /// <c>(y - 1) stride + (k - 1) dilation + 1 - low - high + outputPadding</c> per spatial axis. The kernel is the
    /// convolution's: <c>[C_in, C_out / groups, spatial...]</c> (channels-first).
    /// </summary>
    /// <param name="x">The input <c>[N, C_in, spatial...]</c>.</param><param name="rhs">The kernel.</param>
    /// <param name="windowStrides">The convolution's strides.</param><param name="padding">The convolution's (low, high) pairs, flattened.</param>
    /// <param name="outputPadding">Added to the high end of each spatial axis (less than the stride; null: 0).</param>
    /// <param name="rhsDilation">The kernel dilation (null: 1).</param><param name="featureGroupCount">Groups of channels.</param><param name="layout">The layout.</param>
    /// <returns>The transposed convolution.</returns>
    /// <exception cref="ShapeException">The shapes do not fit.</exception>
    public static Tensor ConvTransposeLhs(Tensor x, Tensor rhs, int[] windowStrides, int[] padding, int[]? outputPadding = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.ConvTransposeLhs(x, rhs, ConvParams.ConvTransposeLhs(windowStrides, padding, outputPadding, rhsDilation, featureGroupCount, layout));

    /// <summary>
    /// The cotangent of <c>Lax.Conv</c>'s kernel (reverse rule): <c>w̄</c> with <c>&lt;Conv(x, w), ct&gt; = &lt;w, w̄&gt;</c>
    /// for every w of aval <paramref name="rhs"/>: the correlation of the lhs with the cotangent, summed over the batch.
    /// </summary>
    /// <param name="lhs">The convolution's lhs.</param><param name="ct">The output cotangent.</param><param name="rhs">The aval of the kernel.</param>
    /// <param name="windowStrides">As Conv.</param><param name="padding">As Conv.</param><param name="lhsDilation">As Conv.</param>
    /// <param name="rhsDilation">As Conv.</param><param name="featureGroupCount">As Conv.</param><param name="batchGroupCount">As Conv.</param><param name="layout">As Conv.</param>
    /// <returns>The kernel cotangent, of aval <paramref name="rhs"/>.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the convolution.</exception>
    public static Tensor ConvTransposeRhs(Tensor lhs, Tensor ct, Aval rhs, int[] windowStrides, string padding, int[]? lhsDilation = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, int batchGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.ConvTransposeRhs(lhs, ct, rhs, ConvParams.Conv(windowStrides, padding, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout));

    /// <summary>The cotangent of <c>Lax.Conv</c>'s kernel, explicit padding (see the overload with a padding string).</summary>
    /// <param name="lhs">The convolution's lhs.</param><param name="ct">The output cotangent.</param><param name="rhs">The aval of the kernel.</param>
    /// <param name="windowStrides">As Conv.</param><param name="padding">As Conv.</param><param name="lhsDilation">As Conv.</param>
    /// <param name="rhsDilation">As Conv.</param><param name="featureGroupCount">As Conv.</param><param name="batchGroupCount">As Conv.</param><param name="layout">As Conv.</param>
    /// <returns>The kernel cotangent.</returns>
    /// <exception cref="ShapeException">The shapes do not fit the convolution.</exception>
    public static Tensor ConvTransposeRhs(Tensor lhs, Tensor ct, Aval rhs, int[] windowStrides, int[] padding, int[]? lhsDilation = null, int[]? rhsDilation = null,
        int featureGroupCount = 1, int batchGroupCount = 1, ConvLayout layout = ConvLayout.ChannelsFirst) =>
        ConvOps.ConvTransposeRhs(lhs, ct, rhs, ConvParams.Conv(windowStrides, padding, lhsDilation, rhsDilation, featureGroupCount, batchGroupCount, layout));
}
