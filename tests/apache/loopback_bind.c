/* Preloaded into Apache RocketMQ's Java processes in tests (LD_PRELOAD): a bind() to the
 * wildcard address binds loopback instead (0.0.0.0 -> 127.0.0.1; :: -> ::ffff:127.0.0.1 on a
 * dual-stack socket, which still takes IPv4 connections to 127.0.0.1, or ::1 on an IPv6-only
 * one). Apache's proxy, its HA listener and every 4.9 listener have no bind-address option;
 * with this, nothing the test suite starts listens beyond loopback.
 *
 * What must stay true: every other bind() passes through unchanged; the file only changes
 * the address, never the port, family or length. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static int dual_stack(int fd) {
    int v6only = 0;
    socklen_t len = sizeof v6only;
    if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) != 0) {
        return 0;
    }
    return v6only == 0;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind;
    if (real_bind == NULL) {
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    }
    if (addr != NULL && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in v4;
        memcpy(&v4, addr, sizeof v4);
        if (v4.sin_addr.s_addr == htonl(INADDR_ANY)) {
            v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&v4, sizeof v4);
        }
    } else if (addr != NULL && addr->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 v6;
        memcpy(&v6, addr, sizeof v6);
        if (IN6_IS_ADDR_UNSPECIFIED(&v6.sin6_addr)) {
            if (dual_stack(fd)) {
                static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                         0, 0, 0xff, 0xff, 127, 0, 0, 1};
                memcpy(&v6.sin6_addr, mapped, sizeof mapped);
            } else {
                v6.sin6_addr = in6addr_loopback;
            }
            return real_bind(fd, (const struct sockaddr *)&v6, sizeof v6);
        }
    }
    return real_bind(fd, addr, len);
}
