/*
 * Context switch for x86-64, System V ABI.
 *
 * A suspended context is its stack pointer; below the address to resume at
 * it holds, from high to low: rbp, rbx, r12, r13, r14, r15, then 8 bytes with
 * MXCSR (low 4) and the x87 control word.  The two control words are
 * callee-saved per the ABI, so a fiber that changes its rounding mode must
 * not leak it to the fiber that runs next.  The caller-saved registers are
 * already spilled by the compiler around the call.
 */
#include "sched/context.h"

#if defined(WF_CTX_ASM) && defined(__x86_64__)

	.text

/*
 * void wf_ctx_switch(void **save, void *to)
 *
 * Two choices here are for speed, each measured in bench/context_switch.c:
 *   - the control words are loaded only when they differ from the current
 *     ones, which is nearly always not the case: ldmxcsr and fldcw are slow;
 *   - the resumed context is entered with an indirect jmp, not ret: a ret is
 *     predicted from the return stack buffer, which holds this context's
 *     caller, never the other one's, so every switch would mispredict.
 */
	.globl	wf_ctx_switch
	.hidden	wf_ctx_switch
	.type	wf_ctx_switch, @function
	.p2align 4
wf_ctx_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movl	(%rsp), %eax
	movzwl	4(%rsp), %ecx

	movq	%rsi, %rsp
	cmpl	(%rsp), %eax
	jne	2f
	cmpw	4(%rsp), %cx
	jne	2f
1:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popq	%rdx
	jmp	*%rdx
2:	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	jmp	1b
	.size	wf_ctx_switch, .-wf_ctx_switch

/*
 * void *wf_ctx_make(char *lo, char *hi, void (*entry)(void *), void *arg)
 *
 * Builds the frame wf_ctx_switch pops, resuming at wf_ctx_start with entry
 * in r12 and arg in r13.  The resume address sits just below a 16-byte
 * boundary, so once it is popped rsp is 16-aligned and entry starts with
 * rsp % 16 == 8, as after any call.  The control words are copied from the
 * creator, as C11 (7.6p4) specifies for a new thread's floating-point
 * environment.
 */
	.globl	wf_ctx_make
	.hidden	wf_ctx_make
	.type	wf_ctx_make, @function
	.p2align 4
wf_ctx_make:
	movq	%rsi, %rax
	andq	$-16, %rax
	leaq	wf_ctx_start(%rip), %r8
	movq	%r8, -8(%rax)
	movq	$0, -16(%rax)		/* rbp: ends frame-pointer walks */
	movq	$0, -24(%rax)		/* rbx */
	movq	%rdx, -32(%rax)		/* r12 */
	movq	%rcx, -40(%rax)		/* r13 */
	movq	$0, -48(%rax)		/* r14 */
	movq	$0, -56(%rax)		/* r15 */
	stmxcsr	-64(%rax)
	fnstcw	-60(%rax)
	subq	$64, %rax
	ret
	.size	wf_ctx_make, .-wf_ctx_make

	.type	wf_ctx_start, @function
	.p2align 4
wf_ctx_start:
	.cfi_startproc
	.cfi_undefined rip	/* the outermost frame: unwinders stop here */
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	wf_ctx_start, .-wf_ctx_start

#endif

#if defined(__ELF__)
	.section .note.GNU-stack,"",%progbits
#endif
