/*
 * Context switch for AArch64, AAPCS64.
 *
 * A suspended context is its stack pointer, pointing at a 176-byte frame:
 * x19-x28, x29 (fp), x30 (lr, where the context resumes), d8-d15, FPCR.
 * FPCR holds the rounding mode, kept per fiber like MXCSR on x86-64; writing
 * it can be slow, so it is written only when it differs.
 */
#include "sched/context.h"

#if defined(WF_CTX_ASM) && defined(__aarch64__)

	.text

/* void wf_ctx_switch(void **save, void *to) */
	.globl	wf_ctx_switch
	.hidden	wf_ctx_switch
	.type	wf_ctx_switch, %function
	.p2align 4
wf_ctx_switch:
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x10, sp
	str	x10, [x0]

	mov	sp, x1
	ldr	x10, [sp, #160]
	cmp	x9, x10
	b.eq	1f
	msr	fpcr, x10
1:	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	ret
	.size	wf_ctx_switch, .-wf_ctx_switch

/*
 * void *wf_ctx_make(char *lo, char *hi, void (*entry)(void *), void *arg)
 *
 * The frame returns into wf_ctx_start with entry in x19 and arg in x20, and
 * sp at the 16-aligned boundary at or below hi.  FPCR is copied from the
 * creator (C11 7.6p4: a new thread inherits its creator's environment).  The
 * other callee-saved slots are left as they are: nobody reads them.
 */
	.globl	wf_ctx_make
	.hidden	wf_ctx_make
	.type	wf_ctx_make, %function
	.p2align 4
wf_ctx_make:
	and	x9, x1, #0xfffffffffffffff0
	sub	x0, x9, #176
	stp	x2, x3, [x0, #0]
	adr	x10, wf_ctx_start
	stp	xzr, x10, [x0, #80]	/* fp 0 ends frame-pointer walks */
	mrs	x10, fpcr
	str	x10, [x0, #160]
	ret
	.size	wf_ctx_make, .-wf_ctx_make

	.type	wf_ctx_start, %function
	.p2align 4
wf_ctx_start:
	.cfi_startproc
	.cfi_undefined x30	/* the outermost frame: unwinders stop here */
	mov	x0, x20
	blr	x19
	brk	#0
	.cfi_endproc
	.size	wf_ctx_start, .-wf_ctx_start

#endif

#if defined(__ELF__)
	.section .note.GNU-stack,"",%progbits
#endif
