/*
 * list.h -- an intrusive, circular, doubly linked list (the idea of libuv's QUEUE and
 * the Linux kernel's list_head). The links live inside the element, so putting an
 * element on a list never allocates and taking it off is O(1). A node that is on no list
 * points at itself, which makes list_linked() and a second list_remove() safe.
 */
#ifndef SALVO_LIST_H
#define SALVO_LIST_H

#include <stddef.h>

struct list {
    struct list *next, *prev;
};

#define list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void list_init(struct list *n)
{
    n->next = n->prev = n;
}
static inline int list_empty(const struct list *head)
{
    return head->next == head;
}
static inline int list_linked(const struct list *n)
{
    return n->next != n;
}

static inline void list_insert_between(struct list *n, struct list *prev, struct list *next)
{
    n->prev = prev;
    n->next = next;
    prev->next = n;
    next->prev = n;
}

static inline void list_push_back(struct list *head, struct list *n)
{
    list_insert_between(n, head->prev, head);
}

static inline void list_push_front(struct list *head, struct list *n)
{
    list_insert_between(n, head, head->next);
}

static inline void list_remove(struct list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    list_init(n);
}

#endif
